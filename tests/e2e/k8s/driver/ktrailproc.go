package main

// The ktrail server under test. scripts/k8s-e2e.sh starts it and writes its command line (one
// argument per line) and its PID; a scenario kills it with SIGKILL in its middle and starts it
// again on the same store, while the apiserver keeps sending (it retries the batches that fail
// in between).

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type ktrailProc struct {
	mu        sync.Mutex
	argsFile  string
	pidFile   string
	logFile   string
	readyFile string
	kills     []killRecord
}

type killRecord struct {
	Scenario string    `json:"scenario"`
	Time     time.Time `json:"time"`
}

func (p *ktrailProc) pid() (int, error) {
	b, err := os.ReadFile(p.pidFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie (killed, not yet reaped by its parent) counts as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

// killAndRestart SIGKILLs the running ktrail, waits until it is gone, and starts it again with
// the same arguments; it returns once the new process serves (its ready file exists).
func (p *ktrailProc) killAndRestart(scenario string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pid, err := p.pid()
	if err != nil {
		return fmt.Errorf("ktrail pid: %w", err)
	}
	if !alive(pid) {
		return fmt.Errorf("ktrail (pid %d) is not running before the kill of scenario %s", pid, scenario)
	}
	_ = os.Remove(p.readyFile)
	now := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 ktrail: %w", err)
	}
	p.kills = append(p.kills, killRecord{Scenario: scenario, Time: now})
	if err := waitFor(10*time.Second, 50*time.Millisecond, func() bool { return !alive(pid) }); err != nil {
		return fmt.Errorf("ktrail pid %d still alive after SIGKILL", pid)
	}
	b, err := os.ReadFile(p.argsFile)
	if err != nil {
		return err
	}
	args := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	out, err := os.OpenFile(p.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart ktrail: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return err
	}
	if err := waitFor(60*time.Second, 100*time.Millisecond, func() bool {
		_, err := os.Stat(p.readyFile)
		return err == nil
	}); err != nil {
		return fmt.Errorf("ktrail did not serve again within 60 s after the kill of %s (log %s)", scenario, p.logFile)
	}
	log.Printf("%s: ktrail killed with SIGKILL and serving again after %s", scenario, time.Since(now).Round(time.Millisecond))
	return nil
}

// waitFor polls cond every step until it holds or the deadline passes.
func waitFor(deadline, step time.Duration, cond func() bool) error {
	end := time.Now().Add(deadline)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("condition not met within %s", deadline)
		}
		time.Sleep(step)
	}
}
