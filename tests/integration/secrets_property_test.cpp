// Property: whatever shape a Secret-bearing request takes, no Secret value reaches the store or
// the logs. Random Secrets (random values, known to the test) in every shape kube-apiserver
// records (create, update, apply, JSON patch, merge patch, strategic merge patch, lists nested
// at any depth, tables, watch events, keys given twice, kinds spelled otherwise) and every way
// they can be kept (stored, dead-lettered by the decoder, cut short, truncated by size) go
// through the real binary: `ktrail ingest` of a JSON-lines file and `ktrail serve` over HTTP.
// Then every value is searched, as text and as base64, in what the store returns (events and
// dead letters, read back with the binary, since event blocks are compressed), in the .db,
// -wal and -shm files, and in the logs. A control run with --redact-secrets=false proves that
// the search finds the values when they are there.
//
// The seed is random and printed; KTRAIL_PROPERTY_SEED=N replays one run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16 |
                       static_cast<unsigned char>(in[i + 1]) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) {
      out.push_back(kAlphabet[n >> s & 63]);
    }
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[n >> 18 & 63], kAlphabet[n >> 12 & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned n =
        static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
    out += {kAlphabet[n >> 18 & 63], kAlphabet[n >> 12 & 63], kAlphabet[n >> 6 & 63], '='};
  }
  return out;
}

// JSON string escaping for the annotation that holds a whole object as text.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  // A fresh secret plain text; the value and its base64 become needles of `shape`.
  std::string plain(const std::string& shape) {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string s = "S";
    const int n = 18 + pick(10);
    for (int i = 0; i < n; ++i) {
      s.push_back(kChars[pick(sizeof kChars - 1)]);
    }
    needles_[s] = fate + shape;
    needles_[base64(s)] = fate + shape;
    return s;
  }
  std::string b64(const std::string& shape) { return base64(plain(shape)); }

  // How the request is delivered ("dead-letter/", "cut-short/", ...), prefixed to its shape.
  std::string fate;

  int pick(std::size_t n) { return static_cast<int>(rng_() % n); }
  bool coin() { return pick(2) == 0; }

  // {"k1":"<b64>",...}
  std::string data_map(const std::string& shape, bool plain_text = false) {
    std::string out = "{";
    const int n = 1 + pick(3);
    for (int i = 0; i < n; ++i) {
      out += (i ? "," : "") + std::string("\"key") + std::to_string(i) + "\":\"" +
             (plain_text ? plain(shape) : b64(shape)) + "\"";
    }
    return out + "}";
  }

  // The members of a Secret after its kind (metadata with the last-applied annotation, data,
  // stringData), without braces.
  std::string secret_body(const std::string& shape) {
    const std::string applied = R"({"apiVersion":"v1","kind":"Secret","data":)" +
                                data_map(shape) + R"(,"metadata":{"name":"s"}})";
    std::string body = R"("metadata":{"name":"s","namespace":"ns","annotations":{)"
                       R"("kubectl.kubernetes.io/last-applied-configuration":")" +
                       escape(applied) + R"("}},"type":"Opaque","data":)" + data_map(shape);
    if (coin()) {
      body += R"(,"stringData":)" + data_map(shape, true);
    }
    return body;
  }
  std::string secret(const std::string& shape, const std::string& kind = "Secret") {
    return "{" + (kind.empty() ? "" : R"("kind":")" + kind + R"(","apiVersion":"v1",)") +
           secret_body(shape) + "}";
  }

  std::vector<std::pair<std::string, std::string>> take_needles() {
    std::vector<std::pair<std::string, std::string>> out(needles_.begin(), needles_.end());
    needles_.clear();
    return out;
  }

 private:
  std::mt19937_64 rng_;
  std::map<std::string, std::string> needles_;
};

struct Shaped {
  std::string shape;
  std::string resource;  // objectRef.resource ("" for none)
  std::string verb;
  std::string objects;   // ,"requestObject":...,"responseObject":...
};

// One Secret-bearing request in a random shape.
Shaped random_request(Generator& g) {
  const std::vector<std::string> kinds = {"Secret", "secret", "SECRET", ""};
  switch (g.pick(12)) {
    case 0:
      return {"create", "secrets", "create",
              R"(,"requestObject":)" + g.secret("create", kinds[g.pick(4)]) +
                  R"(,"responseObject":)" + g.secret("create")};
    case 1:
      return {"update", "secrets", "update",
              R"(,"requestObject":)" + g.secret("update", kinds[g.pick(4)]) +
                  R"(,"responseObject":)" + g.secret("update")};
    case 2: {
      const std::vector<std::string> paths = {
          "/data/key", "/data/a~1b", "/stringData/key", "/data",
          "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
          "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration/x"};
      std::string ops = "[";
      const int n = 1 + g.pick(4);
      for (int i = 0; i < n; ++i) {
        const std::string& p = paths[g.pick(paths.size())];
        const std::string value =
            p == "/data" ? g.data_map("json-patch") : "\"" + g.b64("json-patch") + "\"";
        const std::vector<std::string> op_names = {"add", "replace", "test"};
        ops += (i ? "," : "") + std::string(R"({"op":")") + op_names[g.pick(3)] +
               R"(","path":")" + p + R"(","value":)" + value + "}";
      }
      ops += R"(,{"op":"add","path":"","value":)" + g.secret("json-patch", "") + "}]";
      return {"json-patch", "secrets", "patch", R"(,"requestObject":)" + ops};
    }
    case 3: {
      // Merge patches carry no kind, or one spelled as the client pleased.
      const std::string kind = g.coin() ? "" : R"("kind":"secret",)";
      return {"merge-patch", "secrets", "patch",
              R"(,"requestObject":{)" + kind + R"("data":)" + g.data_map("merge-patch") +
                  R"(},"responseObject":)" + g.secret("merge-patch")};
    }
    case 4:
      return {"strategic-merge-patch", "secrets", "patch",
              R"(,"requestObject":{"$patch":"merge",)" + g.secret_body("strategic-merge-patch") +
                  "}"};
    case 5:
      return {"apply", "secrets", "patch",
              R"(,"requestObject":)" + g.secret("apply", kinds[g.pick(4)])};
    case 6: {
      // A SecretList (items without kind) inside Lists, at any depth.
      const int depth = g.pick(9);
      const std::string shape = "list-depth-" + std::to_string(depth);
      std::string list = R"({"kind":"SecretList","items":[)" + g.secret(shape, "") + "," +
                         g.secret(shape, "") + "]}";
      for (int i = 0; i < depth; ++i) {
        list = R"({"kind":"List","items":[)" + list + "]}";
      }
      return {shape, g.coin() ? "secrets" : "", "list", R"(,"responseObject":)" + list};
    }
    case 7: {
      // Secrets with their kind inside Lists of an event on something else.
      const int depth = g.pick(9);
      const std::string shape = "nested-lists-" + std::to_string(depth);
      std::string list = R"({"kind":"List","items":[)" + g.secret(shape) + "]}";
      for (int i = 0; i < depth; ++i) {
        list = R"({"kind":"List","items":[{"kind":"ConfigMap","data":{"a":"b"}},)" + list + "]}";
      }
      return {shape, "configmaps", "list", R"(,"responseObject":)" + list};
    }
    case 8:
      return {"table", "secrets", "list",
              R"(,"responseObject":{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[)"
              R"({"cells":["s","Opaque",1,"1d"],"object":)" +
                  g.secret("table", g.coin() ? "Secret" : "PartialObjectMetadata") + "}]}"};
    case 9:
      return {"watch", "secrets", "watch",
              R"(,"responseObject":{"type":"ADDED","object":)" + g.secret("watch", kinds[g.pick(4)]) +
                  "}"};
    case 10: {
      // The key given twice: kube-apiserver keeps the last.
      const std::string first = R"("data":{"key0":"<redacted: 3 bytes>"})";
      const std::string second = R"("data":)" + g.data_map("duplicate-data");
      return {"duplicate-data", "secrets", "update",
              R"(,"requestObject":{"kind":"Secret",)" + (g.coin() ? first + "," + second
                                                                  : second + "," + first) +
                  R"(,"stringData":{"a":"b"},"stringData":)" + g.data_map("duplicate-data", true) +
                  "}"};
    }
    default:
      // A Secret in a Secret-shaped create on a resource not named secrets (kind decides).
      return {"by-kind", "", "create", R"(,"requestObject":)" + g.secret("by-kind")};
  }
}

int g_id = 0;

// The event as an EventList item; `defect` makes the decoder reject it.
std::string audit_event(const Shaped& s, const std::string& defect = "",
                        const std::string& padding = "") {
  const std::string id = "prop-" + std::to_string(++g_id);
  const std::string ref =
      s.resource.empty()
          ? ""
          : R"("objectRef":{"resource":")" + s.resource + R"(","namespace":"ns","name":"s","apiVersion":"v1"},)";
  std::string stage_time = R"(,"stageTimestamp":"2026-03-01T12:00:00.000002Z")";
  if (defect == "no-stage-time") {
    stage_time.clear();
  } else if (defect == "bad-time") {
    stage_time = R"(,"stageTimestamp":"2026-13-45T99:00:00Z")";
  }
  return R"({"level":"RequestResponse","auditID":")" + id +
         R"(","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/secrets/s","verb":")" +
         s.verb + R"(","user":{"username":"alice","groups":["system:authenticated"]},)" + ref +
         R"("responseStatus":{"metadata":{},"code":200})" + s.objects +
         (padding.empty() ? "" : R"(,"annotations":{"pad":")" + padding + R"("})") +
         R"(,"requestReceivedTimestamp":"2026-03-01T12:00:00.000001Z")" + stage_time + "}";
}

std::string read_or_empty(const std::string& path) {
  return std::filesystem::exists(path) ? read_file(path) : std::string();
}

struct Leak {
  std::string where, shape;
};

// Every needle found in `text`, with where it was found.
void search(const std::vector<std::pair<std::string, std::string>>& needles,
            const std::string& text, const std::string& where, std::vector<Leak>* leaks) {
  for (const auto& [needle, shape] : needles) {
    if (text.find(needle) != std::string::npos) {
      leaks->push_back({where, shape});
    }
  }
}

std::string describe(const std::vector<Leak>& leaks) {
  std::map<std::string, std::set<std::string>> by_shape;
  for (const auto& l : leaks) {
    by_shape[l.shape].insert(l.where);
  }
  std::string out;
  for (const auto& [shape, wheres] : by_shape) {
    out += "  " + shape + ":";
    for (const auto& w : wheres) {
      out += " " + w;
    }
    out += "\n";
  }
  return out;
}

std::string stored(const std::string& db) {
  CommandResult events = run_ktrail({"query", "audit", "--db", db, "--full", "-o", "json",
                                     "--limit", "0", "--stages", "all"});
  EXPECT_EQ(events.exit_code, 0) << events.err;
  CommandResult dead =
      run_ktrail({"sql", "--db", db, "SELECT reason, raw FROM dead_letters"});
  EXPECT_EQ(dead.exit_code, 0) << dead.err;
  return events.out + "\n" + dead.out;
}

std::uint64_t seed_of_run() {
  if (const char* s = std::getenv("KTRAIL_PROPERTY_SEED")) {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}();
}

TEST(SecretsProperty, NoSecretValueReachesTheStoreOrTheLogsThroughIngest) {
  const std::uint64_t seed = seed_of_run();
  SCOPED_TRACE("KTRAIL_PROPERTY_SEED=" + std::to_string(seed));
  Generator g(seed);
  TempDir dir;
  // 600 lines: most stored, some dead-lettered by the decoder, some cut short.
  std::string lines;
  for (int i = 0; i < 600; ++i) {
    const int fate = g.pick(10);
    const char* fates[] = {"dead-letter/", "cut-short/", "event-list/"};
    g.fate = fate < 3 ? fates[fate] : "";
    Shaped s = random_request(g);
    if (fate == 0) {
      lines += audit_event(s, g.coin() ? "no-stage-time" : "bad-time") + "\n";
    } else if (fate == 1) {
      // A line cut short, right after a value: not JSON, so nothing of it may be kept.
      const std::string full = audit_event(s);
      const std::size_t at = full.find("\"S", full.find("\"data\""));
      lines += full.substr(0, at == std::string::npos ? full.size() / 2 : at + 30) + "\n";
    } else if (fate == 2) {
      // A whole EventList on one line, one item of which is rejected.
      lines += R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)" + audit_event(s) +
               "," + audit_event(random_request(g), "no-stage-time") + "]}\n";
    } else {
      lines += audit_event(s) + "\n";
    }
  }
  const auto needles = g.take_needles();
  ASSERT_GT(needles.size(), 1000u);
  write_file(dir.file("audit.jsonl"), lines);

  const std::string db = dir.file("k.db");
  CommandResult ingest = run_ktrail({"ingest", "--db", db, dir.file("audit.jsonl")});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  const std::string back = stored(db);
  EXPECT_NE(back.find("<redacted: "), std::string::npos);
  EXPECT_NE(back.find("content not kept"), std::string::npos);  // the cut lines

  std::vector<Leak> leaks;
  search(needles, back, "stored", &leaks);
  search(needles, ingest.out + ingest.err, "logs", &leaks);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    search(needles, read_or_empty(db + suffix), "file" + std::string(suffix), &leaks);
  }
  EXPECT_TRUE(leaks.empty()) << leaks.size() << " values found, by shape and place:\n"
                             << describe(leaks);

  // Control: without redaction the same search finds the values, so it can fail.
  const std::string plain_db = dir.file("plain.db");
  ASSERT_EQ(run_ktrail({"ingest", "--db", plain_db, "--redact-secrets=false",
                        dir.file("audit.jsonl")})
                .exit_code,
            0);
  std::vector<Leak> control;
  search(needles, stored(plain_db), "stored", &control);
  // Each value is two needles (text and base64), of which the store holds one: data values as
  // base64, stringData values as text. Cut-short lines lose a few.
  EXPECT_GT(control.size() * 10, needles.size() / 2 * 8);
}

TEST(SecretsProperty, NoSecretValueReachesTheStoreOrTheLogsThroughServe) {
  const std::uint64_t seed = seed_of_run() + 1;
  SCOPED_TRACE("KTRAIL_PROPERTY_SEED=" + std::to_string(seed - 1));
  Generator g(seed);
  TempDir dir;
  const std::string db = dir.file("s.db");
  ServeProcess serve;
  // A size limit that the padded events exceed, so some are truncated.
  ASSERT_TRUE(serve.start({"--listen", "127.0.0.1:0", "--db", db, "--max-event-bytes", "6000",
                           "--log-level", "debug"}))
      << serve.stderr_text();
  ClientOptions options;
  options.port = serve.port();
  HttpClient client(options);
  std::string responses;
  for (int b = 0; b < 40; ++b) {
    std::string items;
    const int n = 1 + g.pick(6);
    for (int i = 0; i < n; ++i) {
      const int fate = g.pick(6);
      g.fate = fate == 0 ? "dead-letter/" : fate == 1 ? "truncated/" : "";
      Shaped s = random_request(g);
      const std::string event = fate == 0   ? audit_event(s, "no-stage-time")
                                : fate == 1 ? audit_event(s, "", std::string(7000, 'p'))
                                            : audit_event(s);
      items += (i ? "," : "") + event;
    }
    auto r = client.request("POST", "/audit",
                            R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)" +
                                items + "]}");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_EQ(r->status, 200u) << r->body;
    responses += r->body;
  }
  const auto needles = g.take_needles();
  // Read while the server runs, so that the -wal and -shm files are there.
  std::vector<Leak> leaks;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    search(needles, read_or_empty(db + suffix), "file" + std::string(suffix), &leaks);
  }
  search(needles, responses, "responses", &leaks);
  serve.signal(SIGTERM);
  ASSERT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
  const std::string back = stored(db);
  EXPECT_NE(back.find("<redacted: "), std::string::npos);
  EXPECT_NE(back.find("audit.k8s.io/truncated"), std::string::npos);
  search(needles, back, "stored", &leaks);
  search(needles, serve.stderr_text(), "logs", &leaks);
  EXPECT_TRUE(leaks.empty()) << leaks.size() << " values found, by shape and place:\n"
                             << describe(leaks);
}

}  // namespace
}  // namespace ktrail::testing
