package policyoracle

// Random policy files, YAML and JSON, written as text so that they hold what a generator of
// valid policies never would: YAML 1.1 scalars that are not what they look like, tags,
// anchors and merge keys, duplicate and unknown fields, a missing or empty kind, and JSON
// that only a lenient parser reads (comments, trailing commas, single quotes, trailing data,
// lone surrogates). Some are then mutated byte by byte.

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
)

// Scalars for string fields, as YAML source text.
var nastyYAMLStrings = []string{
	"0b101", "-0x1F", "0x1F", "+0x1F", ".NAN", ".nan", ".NaN", ".inf", "-.Inf", "+.INF", ".Inf", "!!bool true",
	"!!str 5", "!!str yes", "0x", "0o8", "0o17", "0O17", "0777", "0999", "1_000", "_1", "1__0", "1e3", "1E3", "1.5",
	"+12", "-0", "0.", ".5", "1.", "yes", "no", "on", "off", "y", "n", "Y", "True", "tRUE", "FALSE", "~", "null",
	"Null", "NULL", "nULL", `""`, "''", `"0x1F"`, "'yes'", `!!null ""`, `!!int "5"`, "!!float 1", "!!str", "1:20",
	"2001-12-14", "2001-12-14t21:59:43.10-05:00", ".", "-", "0b", "-0b11", "0b2", "0B1", "1e", "e3", "0x1g",
	"9223372036854775808", "-9223372036854775809", "18446744073709551616", "0.1e+5", "+.5", "-.5e-3", "1_0.5",
	"!!binary aGk=", "!!timestamp 2001-12-14", "!!seq []", "!!map {}", "!!str ~", "!foo bar", "!!merge x",
	"get", "list", "pods", "alice", "Metadata", "None", "Request", "RequestResponse", "*", "/healthz*",
	`"a b"`, `"\u00e9"`, `"\x41"`, `"\/"`, `'it''s'`, "|\n      block", ">-\n      folded",
}

var nastyYAMLBools = []string{
	"true", "false", "yes", "no", "on", "off", "y", "n", "True", "FALSE", "tRue", `"true"`, "'false'",
	"!!bool true", "!!bool yes", "!!bool 1", "!!str true", "1", "0", "~", "null", "", "[]", "{}", "0x1",
}

var nastyJSONStrings = []string{
	`"get"`, `"pods"`, `"alice"`, `"*"`, `"Metadata"`, `"None"`, `"\ud800"`, `"\udc00"`, `"\ud83d\ude00"`,
	`"\u0000"`, `"\/"`, `"a\tb"`, `"caf\u00e9"`, `5`, `1e3`, `-0`, `true`, `null`, `[]`, `{}`, `'single'`,
	`NaN`, `Infinity`, `0x1F`, `"\x41"`, `"\U0001F600"`, `"a` + "\t" + `b"`, `"` + "\x01" + `"`, `"\ud800\u0041"`,
	`""`, `"yes"`, `"0b101"`, `01`, `+1`, `.5`, `1.`, `"\u00"`,
}

// nastiness is the chance (1 in n) that a scalar is drawn from the nasty pools; a third of
// the files have none, so that many files are accepted and their reading can be compared.
var nastiness = 14

// clean: this file keeps to what kube-apiserver accepts, apart from the odd scalar.
func clean() bool { return nastiness > 1000 }

func boolScalar(r *rand.Rand) string {
	if clean() {
		return pick(r, []string{"true", "false", "yes", "off", "True", "!!bool true", "~", `!!bool "false"`})
	}
	return pick(r, nastyYAMLBools)
}

func yamlScalar(r *rand.Rand, pool []string) string {
	if r.Intn(nastiness) == 0 {
		return pick(r, nastyYAMLStrings)
	}
	s := pick(r, pool)
	// Mostly quote what plain YAML cannot hold (an empty entry, an alias-like '*'); not always.
	if (s == "" || strings.HasPrefix(s, "*")) && r.Intn(5) != 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func yamlList(r *rand.Rand, pool []string, indent string) string {
	n := r.Intn(3)
	items := make([]string, 0, n+1)
	for i := 0; i <= n; i++ {
		items = append(items, yamlScalar(r, pool))
	}
	flow := r.Intn(2) == 0
	for _, it := range items {
		// Block scalars do not fit in a flow list; nor does a bare tag, which go-yaml reads
		// with the ',' or ']' after it as one tag (a known difference from ktrail's parser).
		if strings.ContainsAny(it, "|>\n") || (strings.HasPrefix(it, "!") && !strings.Contains(it, " ")) {
			flow = false
		}
	}
	if flow {
		return "[" + strings.Join(items, ", ") + "]"
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString("\n" + indent + "- " + it)
	}
	return b.String()
}

var levelStrings = []string{"None", "Metadata", "Request", "RequestResponse"}

func randomYAMLRule(r *rand.Rand, anchors []string) string {
	const ind = "    "
	var fields []string
	add := func(s string) { fields = append(fields, s) }
	if r.Intn(12) != 0 {
		add("level: " + yamlScalar(r, levelStrings))
	}
	if len(anchors) > 0 && r.Intn(3) == 0 {
		if r.Intn(4) == 0 && len(anchors) > 1 {
			add("<<: [*" + anchors[0] + ", *" + anchors[len(anchors)-1] + "]")
		} else {
			add("<<: *" + pick(r, anchors))
		}
	}
	if r.Intn(3) == 0 {
		add("verbs: " + yamlList(r, verbPool[:9], ind+"  "))
	}
	if r.Intn(4) == 0 {
		add("users: " + yamlList(r, userPool, ind+"  "))
	}
	if r.Intn(5) == 0 {
		add("userGroups: " + yamlList(r, userGroupPool, ind+"  "))
	}
	switch r.Intn(3) {
	case 0:
		g := "- group: " + yamlScalar(r, apiGroupPool)
		if r.Intn(4) != 0 {
			g += "\n" + ind + "    resources: " + yamlList(r, specPool, ind+"      ")
		}
		if r.Intn(5) == 0 {
			g += "\n" + ind + "    resourceNames: " + yamlList(r, namePool, ind+"      ")
		}
		add("resources:\n" + ind + "  " + g)
		if r.Intn(4) == 0 {
			add("namespaces: " + yamlList(r, nsPool, ind+"  "))
		}
	case 1:
		add("nonResourceURLs: " + yamlList(r, urlSpecPool, ind+"  "))
	}
	if r.Intn(4) == 0 {
		add("omitStages: " + yamlList(r, stagePool, ind+"  "))
	}
	if r.Intn(3) == 0 {
		add("omitManagedFields: " + boolScalar(r))
	}
	if r.Intn(15) == 0 {
		add(pick(r, []string{"unknownField: 1", "Level: None", "level: Metadata", "verbs: [get]"}))
	}
	if len(fields) == 0 {
		return "- {}"
	}
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	return "- " + strings.Join(fields, "\n"+ind)
}

func randomYAMLFile(r *rand.Rand) string {
	var b strings.Builder
	if r.Intn(10) == 0 {
		b.WriteString(pick(r, []string{"---\n", "%YAML 1.1\n---\n", "# a policy\n", "\n\n"}))
	}
	var top []string
	switch k := r.Intn(12); {
	case clean() && k < 2:
		top = append(top, "apiVersion: audit.k8s.io/v1")
	case k == 0:
	case k == 1:
		top = append(top, "apiVersion: "+pick(r, []string{"audit.k8s.io/v1beta1", "v1", `""`, "audit.k8s.io/v2", "~"}))
	default:
		top = append(top, "apiVersion: "+pick(r, []string{"audit.k8s.io/v1", `"audit.k8s.io/v1"`, "'audit.k8s.io/v1'"}))
	}
	switch k := r.Intn(8); {
	case k == 0:
	case k == 1 && !clean():
		top = append(top, "kind: "+pick(r, []string{`""`, "''", "~", "", "policy", "Event", "PolicyList", "!!str Policy"}))
	default:
		top = append(top, "kind: Policy")
	}
	if r.Intn(6) == 0 {
		top = append(top, "metadata: "+pick(r, []string{"{name: x}", "{}", "~", "[]", "{name: 5}", "{labels: {a: b}}"}))
	}
	if r.Intn(5) == 0 {
		top = append(top, "omitStages: "+yamlList(r, stagePool, "  "))
	}
	if r.Intn(5) == 0 {
		top = append(top, "omitManagedFields: "+boolScalar(r))
	}
	var anchors []string
	if r.Intn(4) == 0 {
		anchors = append(anchors, "base")
		top = append(top, "x-defaults: &base\n  level: "+yamlScalar(r, levelStrings)+
			pick(r, []string{"", "\n  verbs: [get, list]", "\n  omitManagedFields: true",
				"\n  users: [alice]\n  level: None", "\n  resources:\n  - group: apps"}))
	}
	var rules strings.Builder
	rules.WriteString("rules:")
	switch r.Intn(15) {
	case 0:
		rules.WriteString(pick(r, []string{" []", " ~", " {}", " x"}))
	default:
		n := 1 + r.Intn(4)
		for i := 0; i < n; i++ {
			rule := randomYAMLRule(r, anchors)
			if r.Intn(5) == 0 && strings.HasPrefix(rule, "- ") && !strings.HasPrefix(rule, "- {") {
				name := fmt.Sprintf("r%d", i)
				rule = "- &" + name + "\n    " + strings.TrimPrefix(rule, "- ")
				anchors = append(anchors, name)
			}
			rules.WriteString("\n  " + rule)
		}
	}
	top = append(top, rules.String())
	if r.Intn(20) == 0 {
		top = append(top, "<<: {omitManagedFields: true}")
	}
	if r.Intn(20) == 0 {
		top = append(top, "rules: [{level: None}]") // a duplicate top-level field
	}
	r.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	if clean() {
		// An anchor must come before its aliases.
		sort.SliceStable(top, func(i, j int) bool {
			return strings.HasPrefix(top[i], "x-defaults") && !strings.HasPrefix(top[j], "x-defaults")
		})
	}
	b.WriteString(strings.Join(top, "\n"))
	b.WriteString("\n")
	return b.String()
}

func jsonList(r *rand.Rand, pool []string) string {
	n := r.Intn(3)
	items := make([]string, 0, n+1)
	for i := 0; i <= n; i++ {
		if r.Intn(nastiness) == 0 {
			items = append(items, pick(r, nastyJSONStrings))
		} else {
			items = append(items, fmt.Sprintf("%q", pick(r, pool)))
		}
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func jsonString(r *rand.Rand, pool []string) string {
	if r.Intn(nastiness) == 0 {
		return pick(r, nastyJSONStrings)
	}
	return fmt.Sprintf("%q", pick(r, pool))
}

func randomJSONFile(r *rand.Rand) string {
	var top []string
	if clean() {
		top = append(top, `"apiVersion": "audit.k8s.io/v1"`)
	} else if r.Intn(10) != 0 {
		top = append(top, `"apiVersion": `+pick(r, []string{`"audit.k8s.io/v1"`, `"audit.k8s.io/v1"`, `"audit.k8s.io/v1beta1"`, `""`, `null`}))
	}
	switch k := r.Intn(6); {
	case k == 0:
	case k == 1 && clean():
		top = append(top, `"kind": `+pick(r, []string{`""`, `null`}))
	case k == 1:
		top = append(top, `"kind": `+pick(r, []string{`""`, `null`, `"policy"`, `"Event"`}))
	default:
		top = append(top, `"kind": "Policy"`)
	}
	if r.Intn(5) == 0 {
		top = append(top, `"omitStages": `+jsonList(r, stagePool))
	}
	if r.Intn(5) == 0 {
		if clean() {
			top = append(top, `"omitManagedFields": `+pick(r, []string{"true", "false", "null"}))
		} else {
			top = append(top, `"omitManagedFields": `+pick(r, []string{"true", "false", `"true"`, "null", "1"}))
		}
	}
	var rules []string
	for i := 1 + r.Intn(3); i > 0; i-- {
		var f []string
		if r.Intn(10) != 0 {
			f = append(f, `"level": `+jsonString(r, levelStrings))
		}
		if r.Intn(3) == 0 {
			f = append(f, `"verbs": `+jsonList(r, verbPool[:9]))
		}
		if r.Intn(4) == 0 {
			f = append(f, `"users": `+jsonList(r, userPool))
		}
		switch r.Intn(3) {
		case 0:
			f = append(f, `"resources": [{"group": `+jsonString(r, apiGroupPool)+`, "resources": `+jsonList(r, specPool)+`}]`)
		case 1:
			f = append(f, `"nonResourceURLs": `+jsonList(r, urlSpecPool))
		}
		if r.Intn(4) == 0 {
			f = append(f, `"omitManagedFields": `+pick(r, []string{"true", "false", `"false"`, "null"}))
		}
		if r.Intn(12) == 0 {
			f = append(f, pick(r, []string{`"Level": "None"`, `"level": "Metadata"`, `"x": {"y": [1, 2]}`}))
		}
		rules = append(rules, "{"+strings.Join(f, ", ")+"}")
	}
	top = append(top, `"rules": [`+strings.Join(rules, ",\n    ")+"]")
	r.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	text := "{\n  " + strings.Join(top, ",\n  ") + "\n}\n"
	// What only a lenient JSON parser reads.
	lenient := r.Intn(14)
	if clean() {
		lenient = 99
	}
	switch lenient {
	case 0:
		text = strings.Replace(text, "]", ",]", 1)
	case 1:
		text = strings.Replace(text, "\n}", ",\n}", 1)
	case 2:
		text = strings.Replace(text, "{\n", "{\n  // a comment\n", 1)
	case 3:
		text = strings.Replace(text, "{\n", "{ /* c */\n", 1)
	case 4:
		text = strings.Replace(text, `"kind"`, `'kind'`, 1)
	case 5:
		text += pick(r, []string{"{}", "x", "\n\n# trailing", "]", "null", "\n---\n{}", "\x00"})
	case 6:
		text = pick(r, []string{"  \n\t", "\ufeff", "\n", "\r\n"}) + text
	case 7:
		text = strings.Replace(text, `"rules"`, `"Rules"`, 1)
	case 8:
		text = strings.Replace(text, `"rules": [`, `"rules": [{"level": "None"}], "rules": [`, 1)
	}
	return text
}

// mutate changes a few bytes of a file.
func mutate(r *rand.Rand, text string) string {
	b := []byte(text)
	for n := 1 + r.Intn(3); n > 0 && len(b) > 0; n-- {
		at := r.Intn(len(b))
		switch r.Intn(4) {
		case 0:
			b = append(b[:at], b[at+1:]...)
		case 1:
			c := pick(r, []byte(":-[]{}\"' \n\t,#&*!|>%@`\\<"))
			b = append(b[:at], append([]byte{c}, b[at:]...)...)
		case 2:
			b[at] = pick(r, []byte("01xo.eE_+-~ynYN"))
		default:
			// Duplicate a line.
			start := strings.LastIndexByte(string(b[:at]), '\n') + 1
			end := strings.IndexByte(string(b[at:]), '\n')
			if end >= 0 {
				line := append([]byte{}, b[start:at+end+1]...)
				b = append(b[:start], append(line, b[start:]...)...)
			}
		}
	}
	return string(b)
}

func randomPolicyFile(r *rand.Rand) (string, string) {
	nastiness = pick(r, []int{14, 14, 1000000})
	var text, ext string
	if r.Intn(3) == 0 {
		text, ext = randomJSONFile(r), "json"
	} else {
		text, ext = randomYAMLFile(r), "yaml"
	}
	if !clean() && r.Intn(4) == 0 {
		text = mutate(r, text)
	}
	return text, ext
}
