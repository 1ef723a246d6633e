// The streaming fast path must decode exactly what the document path decodes, or decline.
// Every case compares decode_audit_line / decode_audit_document (fast path first) with the
// *_via_dom variants (document path only), field by field, rejected items and errors included.
#include "core/audit_json_fast.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"

namespace ktrail {
namespace {

void expect_same_user(const UserInfo& a, const UserInfo& b) {
  EXPECT_EQ(a.username, b.username);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.groups, b.groups);
}

void expect_same_event(const AuditEvent& a, const AuditEvent& b) {
  EXPECT_EQ(a.audit_id, b.audit_id);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.level_received, b.level_received);
  EXPECT_EQ(a.verb, b.verb);
  EXPECT_EQ(a.request_uri, b.request_uri);
  expect_same_user(a.user, b.user);
  ASSERT_EQ(a.impersonated_user.has_value(), b.impersonated_user.has_value());
  if (a.impersonated_user) {
    expect_same_user(*a.impersonated_user, *b.impersonated_user);
  }
  EXPECT_EQ(a.source_ips, b.source_ips);
  EXPECT_EQ(a.user_agent, b.user_agent);
  ASSERT_EQ(a.object_ref.has_value(), b.object_ref.has_value());
  if (a.object_ref) {
    EXPECT_EQ(a.object_ref->resource, b.object_ref->resource);
    EXPECT_EQ(a.object_ref->namespace_, b.object_ref->namespace_);
    EXPECT_EQ(a.object_ref->name, b.object_ref->name);
    EXPECT_EQ(a.object_ref->uid, b.object_ref->uid);
    EXPECT_EQ(a.object_ref->api_group, b.object_ref->api_group);
    EXPECT_EQ(a.object_ref->api_version, b.object_ref->api_version);
    EXPECT_EQ(a.object_ref->resource_version, b.object_ref->resource_version);
    EXPECT_EQ(a.object_ref->subresource, b.object_ref->subresource);
  }
  EXPECT_EQ(a.response_code, b.response_code);
  EXPECT_EQ(a.request_received, b.request_received);
  EXPECT_EQ(a.stage_time, b.stage_time);
  EXPECT_EQ(a.has_request_object, b.has_request_object);
  EXPECT_EQ(a.has_response_object, b.has_response_object);
  EXPECT_EQ(a.json, b.json);
}

void expect_same(const DecodedAudit& a, const DecodedAudit& b, const std::string& input) {
  SCOPED_TRACE(input.substr(0, 300));
  ASSERT_EQ(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    expect_same_event(a.events[i], b.events[i]);
  }
  ASSERT_EQ(a.rejected.size(), b.rejected.size());
  for (std::size_t i = 0; i < a.rejected.size(); ++i) {
    EXPECT_EQ(a.rejected[i].reason, b.rejected[i].reason);
    EXPECT_EQ(a.rejected[i].raw, b.rejected[i].raw);
  }
}

void expect_line_agrees(const std::string& line) {
  DecodedAudit fast;
  DecodedAudit dom;
  decode_audit_line(line, &fast);
  decode_audit_line_via_dom(line, &dom);
  expect_same(fast, dom, line);
}

void expect_document_agrees(const std::string& text) {
  auto fast = decode_audit_document(text);
  auto dom = decode_audit_document_via_dom(text);
  SCOPED_TRACE(text.substr(0, 300));
  ASSERT_EQ(fast.is_ok(), dom.is_ok());
  if (!fast.is_ok()) {
    EXPECT_EQ(fast.status().message(), dom.status().message());
    return;
  }
  expect_same(*fast, *dom, text);
}

std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

constexpr const char* kEvent =
    R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",)"
    R"("auditID":"5a0c3e5e-4f7b-4d3c-9d55-1b2c3d4e5f60","stage":"ResponseComplete",)"
    R"("requestURI":"/apis/apps/v1/namespaces/shop/deployments/web/scale","verb":"patch",)"
    R"("user":{"username":"alice@example.com","uid":"u-1","groups":["dev","system:authenticated"]},)"
    R"("impersonatedUser":{"username":"bob","groups":["g"]},"sourceIPs":["10.0.0.7","::1"],)"
    R"("userAgent":"kubectl/v1.36.0 linux amd64",)"
    R"("objectRef":{"resource":"deployments","namespace":"shop","name":"web","uid":"o-1",)"
    R"("apiGroup":"apps","apiVersion":"v1","resourceVersion":"7","subresource":"scale"},)"
    R"("responseStatus":{"metadata":{},"code":200},"requestObject":{"spec":{"replicas":3}},)"
    R"("annotations":{"authorization.k8s.io/decision":"allow"},)"
    R"("requestReceivedTimestamp":"2026-03-01T12:00:00.123456Z",)"
    R"("stageTimestamp":"2026-03-01T12:00:00.140001Z"})";

TEST(FastAudit, TakesTheFastPathForCompactEvents) {
  AuditEvent event;
  ASSERT_TRUE(fast_audit::decode_line(kEvent, &event));
  EXPECT_EQ(event.audit_id, "5a0c3e5e-4f7b-4d3c-9d55-1b2c3d4e5f60");
  EXPECT_EQ(event.user.groups.size(), 2u);
  ASSERT_TRUE(event.impersonated_user.has_value());
  EXPECT_EQ(event.impersonated_user->groups, std::vector<std::string>{"g"});
  ASSERT_TRUE(event.object_ref.has_value());
  EXPECT_EQ(event.object_ref->subresource, "scale");
  EXPECT_EQ(event.response_code, 200);
  EXPECT_TRUE(event.has_request_object);
  EXPECT_FALSE(event.has_response_object);
  EXPECT_EQ(event.json, kEvent);

  // Generated events (the benchmark's) are compact: every one of them goes the fast path.
  bench::AuditGenerator gen;
  for (int i = 0; i < 500; ++i) {
    const std::string line = gen.next_line();
    AuditEvent e;
    EXPECT_TRUE(fast_audit::decode_line(line, &e)) << line;
  }
  fast_audit::DocumentResult doc;
  ASSERT_TRUE(fast_audit::decode_document(gen.next_event_list(50), &doc));
  ASSERT_EQ(doc.items.size(), 50u);
  for (const auto& item : doc.items) {
    EXPECT_FALSE(item.is_slow);
  }
}

TEST(FastAudit, DeclinesWhatItDoesNotHandle) {
  const std::string base(kEvent);
  AuditEvent e;
  EXPECT_FALSE(fast_audit::decode_line("{ " + base.substr(1), &e));  // white space
  EXPECT_FALSE(fast_audit::decode_line(base + "x", &e));             // trailing data
  EXPECT_FALSE(fast_audit::decode_line(R"({"auditID":"a"})", &e));   // missing fields
  EXPECT_FALSE(fast_audit::decode_line("[" + base + "]", &e));       // not an object
  std::string twice = base;
  twice.insert(1, R"("verb":"get",)");
  EXPECT_FALSE(fast_audit::decode_line(twice, &e));  // a field given twice
}

TEST(FastAudit, RealAuditLogsDecodeAsTheDocumentPathDoes) {
  for (const char* file : {"audit2rbac-demo-raw-v1beta1.jsonl", "audit2rbac-demo-v1.jsonl",
                           "falco-k8s-audit-trace-files.jsonl"}) {
    const auto lines = read_lines(file);
    ASSERT_FALSE(lines.empty()) << file;
    std::string list = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      expect_line_agrees(lines[i]);
      expect_document_agrees(lines[i]);
      list += (i == 0 ? "" : ",") + lines[i];
    }
    expect_document_agrees(list + "]}");
  }
}

TEST(FastAudit, GeneratedEventsDecodeAsTheDocumentPathDoes) {
  bench::GeneratorOptions options;
  options.request_response = true;
  options.object_bytes = 512;
  bench::AuditGenerator metadata;
  bench::AuditGenerator full(options);
  for (int i = 0; i < 300; ++i) {
    expect_line_agrees(metadata.next_line());
    expect_line_agrees(full.next_line());
  }
  expect_document_agrees(metadata.next_event_list(400));
  expect_document_agrees(full.next_event_list(40));
}

// Each field of interest replaced by each kind of value, and other spellings of the event.
TEST(FastAudit, AlteredEventsDecodeAsTheDocumentPathDoes) {
  const std::string base(kEvent);
  const std::vector<std::string> fields = {"auditID",
                                           "stage",
                                           "level",
                                           "verb",
                                           "requestURI",
                                           "userAgent",
                                           "requestReceivedTimestamp",
                                           "stageTimestamp",
                                           "user",
                                           "impersonatedUser",
                                           "sourceIPs",
                                           "objectRef",
                                           "responseStatus",
                                           "requestObject",
                                           "responseObject",
                                           "username",
                                           "uid",
                                           "groups",
                                           "resource",
                                           "namespace",
                                           "name",
                                           "apiGroup",
                                           "apiVersion",
                                           "resourceVersion",
                                           "subresource",
                                           "code",
                                           "metadata",
                                           "kind",
                                           "timestamp",
                                           "items"};
  const std::vector<std::string> values = {"null",
                                           "true",
                                           "0",
                                           "-1",
                                           "2147483648",
                                           "-2147483649",
                                           "1.5",
                                           "1e3",
                                           "\"\"",
                                           "\"x\"",
                                           R"("2026-03-01T12:00:00Z")",
                                           R"("not a time")",
                                           R"("Panic")",
                                           R"("RequestResponse")",
                                           "[]",
                                           R"(["a","b"])",
                                           "[1]",
                                           "[null]",
                                           "{}",
                                           R"({"username":"u","groups":["x"]})",
                                           R"({"code":404})",
                                           R"({"code":"404"})",
                                           R"({"resource":7})",
                                           "[[]]",
                                           R"({"a":{"b":[1]}})"};
  std::vector<std::string> cases;
  for (const auto& field : fields) {
    const std::string key = "\"" + field + "\":";
    for (const auto& value : values) {
      // Replace the field's first value wherever the key occurs, or add it at the top.
      std::string text = base;
      const auto at = text.find(key);
      if (at == std::string::npos) {
        text.insert(1, key + value + ",");
      } else {
        // The value runs to the matching end: find it by parsing depth over the text.
        std::size_t i = at + key.size();
        int depth = 0;
        bool in_string = false;
        std::size_t j = i;
        for (; j < text.size(); ++j) {
          const char c = text[j];
          if (in_string) {
            if (c == '\\') {
              ++j;
            } else if (c == '"') {
              in_string = false;
              if (depth == 0) {
                ++j;
                break;
              }
            }
            continue;
          }
          if (c == '"') {
            in_string = true;
          } else if (c == '{' || c == '[') {
            ++depth;
          } else if (c == '}' || c == ']') {
            if (depth == 0) {
              break;
            }
            if (--depth == 0) {
              ++j;
              break;
            }
          } else if (c == ',' && depth == 0) {
            break;
          }
        }
        text.replace(i, j - i, value);
      }
      cases.push_back(text);
      // The same key once more, at the end.
      cases.push_back(base.substr(0, base.size() - 1) + "," + key + value + "}");
    }
  }
  // Spellings: white space, escapes, numbers the writer spells differently, odd documents.
  cases.push_back("{ " + base.substr(1));
  cases.push_back(base + "\n");
  cases.push_back(base + " x");
  cases.push_back(base.substr(0, base.size() - 1) + R"(,"x":"\u00e9\/\n"})");
  cases.push_back(base.substr(0, base.size() - 1) + R"(,"x":"a\"b\\c"})");
  cases.push_back(base.substr(0, base.size() - 1) + R"(,"x":[1.0,2e5,-0,1E2]})");
  cases.push_back(base.substr(0, base.size() - 1) + R"(,"requestObject":null})");
  cases.push_back(std::string(base).replace(base.find("alice"), 5, "al\xC3\xA9"));
  cases.push_back(std::string(base).replace(base.find("alice"), 5, "al\xC3"));
  cases.push_back(std::string(base).replace(base.find("alice"), 5, std::string("al\0ce", 5)));
  cases.push_back(std::string(base).replace(base.find("\"level\":\"Metadata\""), 18,
                                            R"("level":"Metadata","timestamp":"x")"));
  for (std::size_t cut = 0; cut < base.size(); cut += 7) {
    cases.push_back(base.substr(0, cut));
  }
  cases.push_back(std::string(300, '[') + std::string(300, ']'));
  cases.push_back("{\"a\":" + std::string(300, '[') + std::string(300, ']') + "}");
  cases.push_back("");
  cases.push_back("42");
  cases.push_back("[]");
  for (const auto& text : cases) {
    expect_line_agrees(text);
    expect_document_agrees(text);
  }
}

TEST(FastAudit, EventListsMixingGoodAndBadItemsDecodeAsTheDocumentPathDoes) {
  const std::string good(kEvent);
  std::string other = good;
  other.replace(other.find("5a0c3e5e"), 8, "6b1d4f6f");
  const std::string spaced = "{ " + good.substr(1);
  const std::string bad = R"({"auditID":"x","stage":"Nope"})";
  const std::string head = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1",)";
  const std::vector<std::string> documents = {
      head + R"("metadata":{},"items":[)" + good + "," + bad + "," + other + "," + spaced + "]}",
      head + R"("items":[)" + good + ",1," + other + "]}",
      head + R"("items":[)" + good + ",[]]}",
      head + R"("items":[]})",
      head + R"("items":{}})",
      head + R"("items":null})",
      head + R"("items":[)" + good + "]," + R"("items":[)" + other + "]}",
      head.substr(0, head.size() - 1) + "}",
      R"({"items":[)" + good + "]," + good.substr(1),
      "[" + good + "," + other + "]",
      "[" + good + "," + bad + "]",
      "[" + good + ",\"x\"]",
      " \n" + good + " \n",
      good,
      head + R"("items":[)" + good + "," + other + "]} trailing",
      head + R"("items":[)" + good + "," + other,
  };
  for (const auto& text : documents) {
    expect_document_agrees(text);
  }
}

// Where the two paths once disagreed: one decoder's answer must not depend on which path ran.
TEST(FastAudit, EdgeCasesDecodeAsTheDocumentPathDoes) {
  const std::string good(kEvent);
  const std::string fields = good.substr(1, good.size() - 2);
  const std::vector<std::string> documents = {
      // An EventList without items, even with every field of an event: no event.
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1",)" + fields.substr(fields.find("\"level\"")) + "}",
      R"({"kind":"EventList",)" + fields.substr(fields.find("\"level\"")) + "}",
      // Numbers the document holds otherwise than written: -0, beyond 64 bits.
      good.substr(0, good.size() - 1) + R"(,"responseObject":{"a":-0,"b":[123456789012345678901234]}})",
      good.substr(0, good.size() - 1) + R"(,"responseObject":{"a":18446744073709551616}})",
      good.substr(0, good.size() - 1) + R"(,"responseObject":{"a":-9223372036854775809}})",
      good.substr(0, good.size() - 1) + R"(,"responseObject":{"a":18446744073709551615}})",
  };
  for (const auto& text : documents) {
    expect_document_agrees(text);
    expect_line_agrees(text);
  }
  auto empty = decode_audit_document(documents[0]);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->events.empty());
  auto minus_zero = decode_audit_document(documents[2]);
  ASSERT_TRUE(minus_zero.is_ok());
  ASSERT_EQ(minus_zero->events.size(), 1u);
  EXPECT_NE(minus_zero->events[0].json.find(R"("a":0,)"), std::string::npos);
}

// Raw control characters (and lone surrogates) are refused by both paths, wherever they fall
// relative to the 16-byte blocks RapidJSON's SSE2 scanner reads.
TEST(FastAudit, ControlCharactersAndLoneSurrogatesAreRefusedByBothPaths) {
  const std::string good(kEvent);
  const std::size_t ua = good.find("kubectl/v1.36.0");
  for (int c : {0x01, 0x09, 0x19, 0x1A, 0x1B, 0x1F}) {
    for (std::size_t shift = 0; shift < 16; ++shift) {
      std::string text = good;
      text[ua + shift] = static_cast<char>(c);
      expect_document_agrees(text);
      expect_line_agrees(text);
      DecodedAudit line;
      decode_audit_line(text, &line);
      EXPECT_TRUE(line.events.empty()) << "byte " << c << " at " << shift;
    }
  }
  std::string low = good;
  low.replace(ua, 6, "\\udc00");
  expect_document_agrees(low);
  EXPECT_FALSE(decode_audit_document(low).is_ok());
}

// Random byte edits of an event: whatever the edit, both paths agree.
TEST(FastAudit, RandomEditsDecodeAsTheDocumentPathDoes) {
  std::mt19937 rng(7);
  const std::string base(kEvent);
  const std::string alphabet = "{}[]\":,0123456789.-eE tfn\\u\"aZ\x80\xC3";
  for (int i = 0; i < 4000; ++i) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(at, 1, c);
          break;
        default:
          text.erase(at, 1);
          break;
      }
    }
    expect_line_agrees(text);
    expect_document_agrees(text);
    expect_document_agrees(R"({"kind":"EventList","items":[)" + base + "," + text + "]}");
  }
}

}  // namespace
}  // namespace ktrail
