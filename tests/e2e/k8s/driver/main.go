// Command e2e drives ktrail's end-to-end test against a real Kubernetes control plane that
// scripts/k8s-e2e.sh builds and starts.
//
//	e2e run    plays the kubelets and the users, runs the scenarios, kills ktrail in each
//	e2e verify checks what ktrail stored and correlated against the apiserver's audit log
//	e2e ports N  prints N free TCP ports on 127.0.0.1
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2e run|verify [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "verify":
		err = verifyCmd(os.Args[2:])
	case "ports":
		err = portsCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Printf("e2e %s: %v", os.Args[1], err)
		os.Exit(1)
	}
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	server := fs.String("server", "", "the apiserver's URL")
	dir := fs.String("dir", "", "the work directory of scripts/k8s-e2e.sh (pki/, ktrail.*)")
	out := fs.String("out", "", "where to write what the run did (kill times)")
	_ = fs.Parse(args)
	if *server == "" || *dir == "" || *out == "" {
		return fmt.Errorf("--server, --dir and --out are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pki := *dir + "/pki"
	admin, _, err := clientFor(*server, pki, "admin", "e2e-admin")
	if err != nil {
		return err
	}
	r := &runner{
		server: *server, pki: pki, admin: admin, ctx: ctx, kubelets: map[string]*kubelet{},
		ktrail: &ktrailProc{argsFile: *dir + "/ktrail.args", pidFile: *dir + "/ktrail.pid",
			logFile: *dir + "/ktrail.log", readyFile: *dir + "/ktrail.ready"},
	}
	return r.run(*out)
}

// portsCmd prints n distinct ports that were free on 127.0.0.1 (all held open until printed).
func portsCmd(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: e2e ports N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", args[0])
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		held = append(held, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}
