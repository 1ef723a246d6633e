// README.md, run as a reader would paste it: its shell blocks are extracted mechanically and run
// in order, in one bash session, in a fresh directory that looks like the checkout (build/,
// tests/, examples/, scripts/, docs/ linked in), so the README cannot drift from the program.
//
// - ```bash blocks run as they are, in the same shell (variables carry over, as in a terminal);
//   a comment line that shows output (`# {...}`) must appear in that block's output.
// - ```console blocks are transcripts: each `$ COMMAND` runs, and what follows it in the README
//   must be its output exactly (trailing spaces aside).
// - An HTML comment on the line before a block says how to run it:
//   `<!-- readme-test: skip (why) -->`, `<!-- readme-test: background, ready when URL answers -->`
//   (the tour's server: started in its own session, waited for, stopped at the end), and
//   `<!-- readme-test: kafka -->` (only in Readme.KafkaAfterTheTour, which the kafka-labelled
//   ctest entry runs; it starts its own broker through the README's `scripts/kafka.sh up`).
// The only change made to what runs: scripts/run.sh serves with the binary under test
// (KTRAIL_BIN) instead of installing packages and building.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = KTRAIL_SOURCE_DIR;

struct Block {
  std::size_t line = 0;   // README line of the opening fence
  std::string language;   // bash or console
  std::string annotation; // the readme-test comment before it, if any
  std::vector<std::string> lines;
};

std::vector<Block> readme_blocks() {
  std::istringstream in(read_file(kSource + "/README.md"));
  std::vector<Block> blocks;
  std::string line;
  std::string last_nonblank;
  std::size_t n = 0;
  Block* open = nullptr;
  while (std::getline(in, line)) {
    ++n;
    if (open != nullptr) {
      if (line.rfind("```", 0) == 0) {
        open = nullptr;
      } else {
        open->lines.push_back(line);
      }
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      const std::string language = line.substr(3);
      if (language == "bash" || language == "console") {
        Block b;
        b.line = n;
        b.language = language;
        if (last_nonblank.rfind("<!-- readme-test:", 0) == 0) {
          b.annotation = last_nonblank;
        }
        blocks.push_back(b);
        open = &blocks.back();
      } else {
        // Other fences (diagrams, plain text) are skipped whole.
        while (std::getline(in, line)) {
          ++n;
          if (line.rfind("```", 0) == 0) {
            break;
          }
        }
      }
      continue;
    }
    if (line.find_first_not_of(" \t") != std::string::npos) {
      last_nonblank = line;
    }
  }
  return blocks;
}

std::string rstrip_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return q + "'";
}

// What a console block expects: each command and the output shown under it.
struct Step {
  std::string command;
  std::string expected;
};

std::vector<Step> console_steps(const Block& b) {
  std::vector<Step> steps;
  for (const std::string& line : b.lines) {
    if (line.rfind("$ ", 0) == 0) {
      steps.push_back({line.substr(2), ""});
    } else if (!steps.empty()) {
      steps.back().expected += line + "\n";
    }
  }
  return steps;
}

class Readme : public ::testing::Test {
 protected:
  void run_readme(bool with_kafka) {
    const std::string work = dir_.path();
    fs::create_directories(work + "/build/release/app");
    fs::create_symlink(KTRAIL_BINARY, work + "/build/release/app/ktrail");
    for (const char* d : {"tests", "examples", "scripts", "docs", "deploy"}) {
      fs::create_symlink(kSource + "/" + d, work + "/" + d);
    }
    fs::create_directories(work + "/.readme");
    const std::vector<Block> blocks = readme_blocks();
    ASSERT_GT(blocks.size(), 5u) << "README.md has no shell blocks?";

    std::ostringstream script;
    script << "echo $$ > .readme/main.pid\nset -e\n";
    struct Check {
      std::string what;
      std::string out_file;
      std::string expected;
      bool exact;
    };
    std::vector<Check> checks;
    std::vector<std::string> background_pids;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const Block& b = blocks[i];
      const std::string id = std::to_string(i + 1);
      const std::string where = "README.md line " + std::to_string(b.line);
      if (b.annotation.find("skip") != std::string::npos) {
        continue;
      }
      if (b.annotation.find("kafka") != std::string::npos && !with_kafka) {
        continue;
      }
      script << "echo " << shell_quote(where) << " > .readme/current\n";
      if (b.language == "console") {
        const auto steps = console_steps(b);
        for (std::size_t k = 0; k < steps.size(); ++k) {
          const std::string out = ".readme/out-" + id + "-" + std::to_string(k + 1);
          script << "{ " << steps[k].command << "\n} > " << out << " 2>&1\n";
          checks.push_back({where + ": $ " + steps[k].command, out, steps[k].expected, true});
        }
        continue;
      }
      std::string body;
      for (const auto& line : b.lines) {
        body += line + "\n";
        if (line.rfind("# {", 0) == 0) {
          checks.push_back({where + ": shown output", ".readme/out-" + id, line.substr(2), false});
        }
      }
      write_file(work + "/.readme/block-" + id + ".sh", body);
      if (b.annotation.find("background") != std::string::npos) {
        const auto at = b.annotation.find("ready when ");
        ASSERT_NE(at, std::string::npos) << where << ": a background block needs 'ready when URL'";
        const std::string url = b.annotation.substr(at + 11, b.annotation.find(' ', at + 11) - at - 11);
        const std::string pid_file = ".readme/bg-" + id + ".pid";
        background_pids.push_back(pid_file);
        script << "( setsid bash -c 'source .readme/block-" << id << ".sh' > .readme/out-" << id
               << " 2>&1 < /dev/null & echo $! > " << pid_file << " )\n"
               << "for n in $(seq 600); do curl -fsS " << shell_quote(url)
               << " >/dev/null 2>&1 && break; sleep 0.1; done\n"
               << "curl -fsS " << shell_quote(url) << " >/dev/null\n";
        continue;
      }
      script << "{ source .readme/block-" << id << ".sh\n} > .readme/out-" << id << " 2>&1\n";
    }
    script << "echo done > .readme/current\n";
    write_file(work + "/.readme/main.sh", script.str());

    std::string env = "cd " + shell_quote(work) + " && KTRAIL_BIN=" + shell_quote(KTRAIL_BINARY) +
                      " KAFKA_STATE_DIR=" + shell_quote(work + "/.readme/kafka") +
                      " KAFKA_LIB_DIR=" + shell_quote(kSource + "/.kafka/lib") +
                      " KAFKA_FRESH=1 COLUMNS= ";
    const int status = std::system((env + "setsid bash .readme/main.sh > .readme/main.log 2>&1 < /dev/null").c_str());
    // Whatever happened, stop what the README started: the tour's server, the Kafka roles,
    // the broker.
    for (const auto& pid_file : background_pids) {
      std::system(("cd " + shell_quote(work) + " && test -s " + pid_file + " && kill -- -$(cat " +
                   pid_file + ") 2>/dev/null").c_str());
    }
    std::system(("cd " + shell_quote(work) + " && kill -- -$(cat .readme/main.pid) 2>/dev/null").c_str());
    if (with_kafka) {
      std::system((env + "scripts/kafka.sh down >/dev/null 2>&1").c_str());
    }
    const std::string reached = read_file(work + "/.readme/current");
    auto dump = [&]() {
      std::string all = "main.log:\n" + read_file(work + "/.readme/main.log");
      for (const auto& entry : fs::directory_iterator(work + "/.readme")) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("out-", 0) == 0) {
          all += "\n--- " + name + ":\n" + read_file(entry.path().string());
        }
      }
      return all;
    };
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0 && reached == "done\n")
        << "the README stopped at " << reached << dump();
    for (const Check& c : checks) {
      const std::string got = read_file(work + "/" + c.out_file);
      if (c.exact) {
        EXPECT_EQ(rstrip_lines(got), rstrip_lines(c.expected)) << c.what;
      } else {
        EXPECT_NE(got.find(c.expected), std::string::npos)
            << c.what << ": '" << c.expected << "' not in:\n"
            << got;
      }
    }
    EXPECT_GT(checks.size(), 3u);
  }

  TempDir dir_;
};

TEST_F(Readme, TourAndEveryBlockButKafka) { run_readme(false); }

TEST_F(Readme, KafkaAfterTheTour) { run_readme(true); }

}  // namespace
}  // namespace ktrail::testing
