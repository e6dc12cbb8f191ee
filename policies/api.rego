# API policy: may this local user call this endpoint of the node's HTTP API?
#
# Asked by the node for every authenticated API call:
#   data.xborder.api.allow     (true or false)
#   data.xborder.api.reasons   (why a call is refused, in sentences)
#   data.xborder.api.decision  (the same, in the common decision shape)
#
# Input: {"user": {"sub", "role", "org"}, "method": "GET", "path": "/v1/status"},
# and, for a user an identity provider vouches for (signed in at the console
# through OpenID Connect, or presenting an issuer's access token),
# "identity": {"issuer", "subject", "email", "groups", "entitlements",
# "affiliation"}, so a rule may also ask who the person is, not only
# their role.
#
# Users get a role in their token (xborder token issue --role ...), or,
# signed in through an identity provider, from data.xborder.api.role
# (api_identity.rego):
#   operator    runs the node: may call everything (among it, alone,
#               listing and revoking web console sessions, /v1/sessions);
#   researcher  browses the catalogue, projects, agreements and grants,
#               requests and fetches data (the node shows a researcher only
#               the transfers they started), and runs federated analyses
#               (statistics, model evaluations, approved modules) and reads
#               and verifies their results; reads the registry's modules and
#               the models' committed evaluations; takes data from a
#               dataspace (the Dataspace Protocol): reads a provider's
#               catalogue, negotiates contracts, starts transfers, and
#               reads the negotiations and transfers;
#   legal       reads and reloads the policies and evaluates them; reads
#               projects, agreements and the modules proposed for review,
#               and the contract negotiations with dataspace providers;
#   auditor     reads the audit log and verifies it; reads projects,
#               agreements and grants, lists every transfer, and reads the
#               federated analyses run from this node, the modules and
#               the models' committed evaluations, and verifies an
#               analysis result's signatures (it runs none); reads the
#               negotiations and transfers with dataspace providers.
# Every role may read the node's status and its peers, and ask who the node
# takes it for (/v1/whoami).
#
# "and below" means the path itself and every path under it: GET
# /v1/catalogue and below allows /v1/catalogue and /v1/catalogue/fr-grandest/x,
# not /v1/catalogues; "only" means that path alone. A HEAD request counts as
# a GET.
#
# Legal ground: least privilege and security of processing (GDPR art. 25
# and 32): each person reaches only what their task needs.
package xborder.api

# What each role may call, besides what every role may call: for each method,
# the paths, each either "only" (that path alone) or "and below" (that path
# and every path under it).
permissions := {
	"researcher": {
		"GET": {
			"/v1/catalogue": "and below",
			"/v1/projects": "and below",
			"/v1/agreements": "and below",
			"/v1/grants": "only",
			"/v1/transfers": "and below",
			"/v1/analyses": "and below",
			"/v1/modules": "and below",
			"/v1/evaluations": "only",
			"/v1/dsp/negotiations": "and below",
			"/v1/dsp/transfers": "and below",
		},
		"POST": {
			"/v1/requests": "only",
			"/v1/fetch": "only",
			"/v1/analyses": "only",
			"/v1/analyses/verify": "only",
			"/v1/dsp/catalogue": "only",
			"/v1/dsp/negotiations": "only",
			"/v1/dsp/transfers": "only",
		},
	},
	"legal": {
		"GET": {
			"/v1/policy": "and below",
			"/v1/projects": "and below",
			"/v1/agreements": "and below",
			"/v1/modules": "and below",
			"/v1/dsp/negotiations": "and below",
		},
		"POST": {
			"/v1/policy/reload": "only",
			"/v1/policy/eval": "only",
		},
	},
	"auditor": {
		"GET": {
			"/v1/audit": "and below",
			"/v1/projects": "and below",
			"/v1/agreements": "and below",
			"/v1/grants": "only",
			"/v1/transfers": "only",
			"/v1/policy/peers": "only",
			"/v1/analyses": "and below",
			"/v1/modules": "and below",
			"/v1/evaluations": "only",
			"/v1/dsp/negotiations": "and below",
			"/v1/dsp/transfers": "and below",
		},
		"POST": {"/v1/analyses/verify": "only"},
	},
}

# What every role may call.
every_role := {
	"GET": {
		"/v1/status": "only",
		"/v1/peers": "only",
		"/v1/whoami": "only",
	},
}

roles := {"operator", "researcher", "legal", "auditor"}

# ---------------------------------------------------------------------------
# The decision.
# ---------------------------------------------------------------------------

# Allowed when one of the grants below applies. The same conditions are
# checked here without writing the sentences, since this is asked on every
# API call, and the usual case first: a call listed exactly, with its method
# written in capitals as the tables write it (a test checks the tables).
default allow := false

allow if input.user.role == "operator"

allow if {
	every_role[input.method][input.path]
	input.user.role in roles
}

allow if permissions[input.user.role][input.method][input.path]

allow if role_may_call

allow if {
	input.user.role in roles
	every_role_may_call
}

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

user_role := input.user.role if {
	is_string(input.user.role)
} else := ""

method := upper(input.method) if {
	is_string(input.method)
} else := ""

path := input.path if {
	is_string(input.path)
} else := ""

# The method in capitals; HEAD asks for the headers of a GET, so it counts as
# a GET.
effective_method := "GET" if {
	is_string(input.method)
	upper(input.method) == "HEAD"
} else := upper(input.method) if {
	is_string(input.method)
} else := ""

# A canonical path: starts with /, no empty, "." or ".." segments, so
# "/v1/catalogue/../policy/reload" cannot pass as a catalogue path.
canonical if {
	startswith(path, "/")
	not regex.match(`(^|/)\.\.?(/|$)|//`, path)
}

# The call is listed in a table above: every_role_may_call for the table of
# every role, role_may_call for the table of the user's role. Listed means
# exactly this path, or a path under one listed "and below". The listed paths
# are canonical (a test checks it), so a path listed exactly is canonical too.
every_role_may_call if every_role[effective_method][path]

every_role_may_call if under_path_listed(every_role)

role_may_call if permissions[input.user.role][effective_method][path]

role_may_call if under_path_listed(permissions[input.user.role])

under_path_listed(table) if {
	some listed_path, "and below" in table[effective_method]
	startswith(path, concat("", [listed_path, "/"]))
	canonical
}

# ---------------------------------------------------------------------------
# Grants.
# ---------------------------------------------------------------------------

# Operators run the node and may call every endpoint.
grants contains {
	"rule": "operator",
	"reason": sprintf("The operator role may call every endpoint, including %s %s.", [method, path]),
} if {
	user_role == "operator"
}

# Every role may read the node's status and its peers.
grants contains {
	"rule": "every_role",
	"reason": sprintf("Every role may call %s %s.", [method, path]),
} if {
	user_role in roles
	every_role_may_call
}

# The role's own permissions (the table above).
grants contains {
	"rule": sprintf("%s_role", [user_role]),
	"reason": sprintf("The %s role may call %s %s.", [user_role, method, path]),
} if {
	role_may_call
}

# ---------------------------------------------------------------------------
# Refusals (only explain; anything not granted is refused).
# ---------------------------------------------------------------------------

deny contains {
	"rule": "not_permitted",
	"reason": sprintf("The %s role may not call %s %s.", [user_role, method, path]),
} if {
	user_role in roles
	count(grants) == 0
}

deny contains {
	"rule": "unknown_role",
	"reason": sprintf("The role %v is none of operator, researcher, legal and auditor, so it may call no endpoint.", [json.marshal(user_role)]),
} if {
	not user_role in roles
}

deny contains {
	"rule": "path_not_canonical",
	"reason": sprintf("The path %v is not in canonical form (it must start with / and have no empty, . or .. segments).", [json.marshal(path)]),
} if {
	user_role in roles
	not canonical
	count(grants) == 0
}
