# API policy: may this local user call this endpoint of the node's HTTP API?
#
# Asked by the node for every authenticated API call:
#   data.xborder.api.allow     (true or false)
#   data.xborder.api.reasons   (why a call is refused, in sentences)
#   data.xborder.api.decision  (the same, in the common decision shape)
#
# Input: {"user": {"sub", "role", "org"}, "method": "GET", "path": "/v1/status"}.
#
# Users get a role in their token (xborder token issue --role ...):
#   operator    runs the node: may call everything;
#   researcher  browses the catalogue, projects, agreements and grants, and
#               requests and fetches data;
#   legal       reads and reloads the policies and evaluates them; reads
#               projects and agreements;
#   auditor     reads the audit log and verifies it; reads projects,
#               agreements and grants.
# Every role may read the node's status and its peers.
#
# "and below" means the path itself and every path under it: GET
# /v1/catalogue and below allows /v1/catalogue and /v1/catalogue/fr-grandest/x,
# not /v1/catalogues. A HEAD request counts as a GET.
#
# Legal ground: least privilege and security of processing (GDPR art. 25
# and 32): each person reaches only what their task needs.
package xborder.api

# What each role may call, besides what every role may call.
# below: true also allows the paths under the given one.
permissions := {
	"researcher": [
		{"method": "GET", "path": "/v1/catalogue", "below": true},
		{"method": "GET", "path": "/v1/projects", "below": true},
		{"method": "GET", "path": "/v1/agreements", "below": true},
		{"method": "GET", "path": "/v1/grants", "below": false},
		{"method": "POST", "path": "/v1/requests", "below": false},
		{"method": "POST", "path": "/v1/fetch", "below": false},
		{"method": "GET", "path": "/v1/transfers", "below": true},
	],
	"legal": [
		{"method": "GET", "path": "/v1/policy", "below": true},
		{"method": "POST", "path": "/v1/policy/reload", "below": false},
		{"method": "POST", "path": "/v1/policy/eval", "below": false},
		{"method": "GET", "path": "/v1/projects", "below": true},
		{"method": "GET", "path": "/v1/agreements", "below": true},
	],
	"auditor": [
		{"method": "GET", "path": "/v1/audit", "below": true},
		{"method": "GET", "path": "/v1/projects", "below": true},
		{"method": "GET", "path": "/v1/agreements", "below": true},
		{"method": "GET", "path": "/v1/grants", "below": false},
	],
}

# What every role may call.
every_role := [
	{"method": "GET", "path": "/v1/status", "below": false},
	{"method": "GET", "path": "/v1/peers", "below": false},
]

roles := {"operator", "researcher", "legal", "auditor"}

# ---------------------------------------------------------------------------
# The decision.
# ---------------------------------------------------------------------------

default allow := false

allow if count(grants) > 0

# Why the call is refused, as sentences.
reasons := {d.reason | some d in deny}

decision := {
	"allow": allow,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": [],
	"max_validity_s": 0,
}

fired := sort([[g.rule, g.reason] | some g in grants]) if {
	allow
} else := sort([[d.rule, d.reason] | some d in deny])

# ---------------------------------------------------------------------------
# Facts about the call.
# ---------------------------------------------------------------------------

text(x) := x if {
	is_string(x)
} else := ""

role := text(object.get(input, ["user", "role"], ""))

method := upper(text(object.get(input, "method", "")))

path := text(object.get(input, "path", ""))

# HEAD asks for the headers of a GET: same permission.
effective_method := "GET" if {
	method == "HEAD"
} else := method

# A canonical path: starts with /, no empty, "." or ".." segments, so
# "/v1/catalogue/../policy/reload" cannot pass as a catalogue path.
canonical if {
	startswith(path, "/")
	not regex.match(`(^|/)\.\.?(/|$)|//`, path)
}

permits(p) if {
	p.method == effective_method
	path == p.path
}

permits(p) if {
	p.below == true
	p.method == effective_method
	startswith(path, concat("", [p.path, "/"]))
}

# ---------------------------------------------------------------------------
# Grants.
# ---------------------------------------------------------------------------

# Operators run the node and may call every endpoint.
grants contains {
	"rule": "operator",
	"reason": sprintf("The operator role may call every endpoint, including %s %s.", [method, path]),
} if {
	role == "operator"
}

# Every role may read the node's status and its peers.
grants contains {
	"rule": "every_role",
	"reason": sprintf("Every role may call %s %s.", [method, path]),
} if {
	role in roles
	canonical
	some p in every_role
	permits(p)
}

# The role's own permissions (the table above).
grants contains {
	"rule": sprintf("%s_role", [role]),
	"reason": sprintf("The %s role may call %s %s.", [role, method, path]),
} if {
	canonical
	some p in permissions[role]
	permits(p)
}

# ---------------------------------------------------------------------------
# Refusals (only explain; anything not granted is refused).
# ---------------------------------------------------------------------------

deny contains {
	"rule": "not_permitted",
	"reason": sprintf("The %s role may not call %s %s.", [role, method, path]),
} if {
	role in roles
	count(grants) == 0
}

deny contains {
	"rule": "unknown_role",
	"reason": sprintf("The role %v is none of operator, researcher, legal and auditor, so it may call no endpoint.", [json.marshal(role)]),
} if {
	not role in roles
}

deny contains {
	"rule": "path_not_canonical",
	"reason": sprintf("The path %v is not in canonical form (it must start with / and have no empty, . or .. segments).", [json.marshal(path)]),
} if {
	role in roles
	not canonical
	count(grants) == 0
}
