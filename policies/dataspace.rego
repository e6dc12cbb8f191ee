# Dataspace policy (the consumer side): may a researcher of this node take a
# dataset from a provider of a dataspace, for a purpose?
#
# A dataspace is a network of organisations that exchange data through the
# Eclipse Dataspace Protocol (DSP): a provider lists its datasets in a
# catalogue, each with offers (ODRL policies: what the data may be used for),
# a consumer negotiates a contract for one offer and then fetches the data.
# Asked by this node before it negotiates a contract with such a provider for
# one of its local users, and again before it fetches the data:
#   data.xborder.dataspace.decision
#
# Input:
#   {"researcher": {"sub", "org", "role"},          the local user and API role
#    "provider": {"id", "country", "org", "url"},   the provider: participant id,
#                                                   country, organisation, DSP URL
#    "dataset": {"id", "title", "description", "themes", "keywords", "license", "publisher"},
#    "offer": {...},                                the provider's ODRL offer, as received
#    "purpose": "research",
#    "self": {"node", "country", "org"},
#    "time": "2026-11-26T10:00:00Z"}
#
# The answer is {allow, reasons, rules, obligations, max_validity_s}, as for
# the exchange: nothing is taken unless a rule below grants it and no rule
# below refuses it, and a refusal lists every rule that refuses.
#
# In short:
#   - the local user is a researcher or an operator;
#   - the purpose is one of the federation's vocabulary (purposes.json);
#   - the provider is where EU data protection applies or is recognised as
#     adequate (jurisdictions.json);
#   - when the offer limits the purpose (a constraint on "purpose"), it admits
#     this one;
#   - the data are used only for that purpose, for 90 days at most.
#
# This point is optional: a policy without it takes nothing from a dataspace.
package xborder.dataspace

import data.data.jurisdictions
import data.data.purposes

day_s := 86400

# ---------------------------------------------------------------------------
# The decision, assembled from the rules below.
# ---------------------------------------------------------------------------

default allow := false

# Allowed when no rule refuses and at least one rule grants.
allow if {
	count(deny) == 0
	count(grants) > 0
}

decision := {
	"allow": true,
	"reasons": [r | some [_, r] in granted],
	"rules": [n | some [n, _] in granted],
	"obligations": sort(obligation_set),
	"max_validity_s": min(limits),
} if {
	allow
	granted := sort([[g.rule, g.reason] | some g in grants])
} else := {
	"allow": false,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": [],
	"max_validity_s": 0,
}

fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := [["no_rule_allows", "No rule of this node's policy lets it take this dataset from the dataspace, so it is refused."]]

# ---------------------------------------------------------------------------
# Facts about the request. A field that is missing or not text counts as "".
# ---------------------------------------------------------------------------

role := input.researcher.role if {
	is_string(input.researcher.role)
} else := ""

purpose := input.purpose if {
	is_string(input.purpose)
} else := ""

provider_id := input.provider.id if {
	is_string(input.provider.id)
} else := ""

provider_country := upper(input.provider.country) if {
	is_string(input.provider.country)
} else := ""

# "Germany (DE)"; just the code for a country the lists do not name.
country_label(cc) := sprintf("%s (%s)", [jurisdictions.eu[cc].name, cc]) if {
	jurisdictions.eu[cc]
} else := sprintf("%s (%s)", [jurisdictions.eea[cc].name, cc]) if {
	jurisdictions.eea[cc]
} else := sprintf("%s (%s)", [jurisdictions.adequacy[cc].name, cc]) if {
	jurisdictions.adequacy[cc]
} else := "a country this node's configuration does not name" if {
	cc == ""
} else := cc

vocabulary := concat(", ", sort(object.keys(purposes)))

# The roles of the local API that may take data from a dataspace.
consumer_roles := {"researcher", "operator"}

purpose_stated if trim_space(purpose) != ""

purpose_known if purposes[purpose]

# Where the GDPR applies: the EU and the EEA.
provider_in_eu_eea if jurisdictions.eu[provider_country]

provider_in_eu_eea if jurisdictions.eea[provider_country]

# Where the EU recognises the protection as adequate (GDPR art. 45).
provider_adequate if jurisdictions.adequacy[provider_country]

# ---------------------------------------------------------------------------
# The offer: its permissions and their constraints on the purpose.
#
# The offer is JSON-LD as the provider sent it, compacted with the DSP
# context: {"@type": "Offer", "permission": [{"action": "use", "constraint":
# [{"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand":
# ["research", "statistics"]}]}]}. A single permission or constraint may come
# as an object instead of a list, a term with the "odrl:" prefix or as
# {"@id": ...}, a value as {"@value": ...} or {"@id": ...}.
# ---------------------------------------------------------------------------

# A JSON-LD value as a list.
as_list(x) := x if {
	is_array(x)
} else := [x] if {
	is_object(x)
} else := []

# A term without its ODRL prefix: "odrl:eq" and the full IRI are "eq".
term(x) := bare(x) if {
	is_string(x)
} else := bare(x["@id"]) if {
	is_object(x)
	is_string(x["@id"])
} else := ""

bare(s) := trim_prefix(trim_prefix(s, "odrl:"), "http://www.w3.org/ns/odrl/2/")

# The values of a right operand, as text.
right_values(x) := {v | some e in as_list_or_text(x); v := value_text(e)}

as_list_or_text(x) := [x] if {
	is_string(x)
} else := as_list(x)

value_text(e) := e if {
	is_string(e)
} else := e["@value"] if {
	is_object(e)
	is_string(e["@value"])
} else := e["@id"] if {
	is_object(e)
	is_string(e["@id"])
}

# The offer's permissions, each an object.
offer_permissions := [p |
	is_object(input.offer)
	some p in as_list(object.get(input.offer, "permission", object.get(input.offer, "odrl:permission", [])))
	is_object(p)
]

# A permission's constraints, each an object.
constraints(p) := [c |
	some c in as_list(object.get(p, "constraint", object.get(p, "odrl:constraint", [])))
	is_object(c)
]

left_operand(c) := term(object.get(c, "leftOperand", object.get(c, "odrl:leftOperand", "")))

# A constraint on the purpose, directly in a permission.
purpose_constraint(c) if left_operand(c) == "purpose"

# A logical constraint (and, or, xone, andSequence) that limits the purpose
# somewhere inside: the policy does not read it, so it admits no purpose.
logical_purpose_constraint(c) if {
	not purpose_constraint(c)
	some _, v in c
	walk(v, [_, inner])
	is_object(inner)
	left_operand(inner) == "purpose"
}

# What a constraint on the purpose admits: "eq" and "isAnyOf" the values
# named, "neq" and "isNoneOf" every other purpose. Any other operator admits
# nothing.
constraint_admits(c) if {
	term(object.get(c, "operator", object.get(c, "odrl:operator", ""))) in {"eq", "isAnyOf"}
	purpose in right_values(object.get(c, "rightOperand", object.get(c, "odrl:rightOperand", null)))
}

constraint_admits(c) if {
	term(object.get(c, "operator", object.get(c, "odrl:operator", ""))) in {"neq", "isNoneOf"}
	not purpose in right_values(object.get(c, "rightOperand", object.get(c, "odrl:rightOperand", null)))
}

# A permission limits the purpose when one of its constraints does.
permission_limits_purpose(p) if {
	some c in constraints(p)
	purpose_constraint(c)
}

permission_limits_purpose(p) if {
	some c in constraints(p)
	logical_purpose_constraint(c)
}

# A constraint lets the purpose through: it is not about the purpose, or it
# is and admits it.
constraint_ok(c) if {
	not purpose_constraint(c)
	not logical_purpose_constraint(c)
}

constraint_ok(c) if {
	purpose_constraint(c)
	constraint_admits(c)
}

# A permission admits the purpose when each of its constraints lets it
# through (a permission without a constraint on the purpose admits every
# purpose).
permission_admits(p) if {
	every c in constraints(p) {
		constraint_ok(c)
	}
}

# The offer limits the purpose when one of its permissions does, and admits
# it when one of its permissions does.
offer_limits_purpose if {
	some p in offer_permissions
	permission_limits_purpose(p)
}

offer_admits_purpose if {
	some p in offer_permissions
	permission_admits(p)
}

# The purposes the offer names as admitted, for the sentences.
offer_named_purposes := {sprintf("%q", [v]) |
	some p in offer_permissions
	some c in constraints(p)
	purpose_constraint(c)
	term(object.get(c, "operator", object.get(c, "odrl:operator", ""))) in {"eq", "isAnyOf"}
	some v in right_values(object.get(c, "rightOperand", object.get(c, "odrl:rightOperand", null)))
}

# "offer urn:uuid:..." in the sentences; just "offer" without an id.
offer_name := sprintf("offer %s", [input.offer["@id"]]) if {
	is_string(input.offer["@id"])
	input.offer["@id"] != ""
} else := "offer"

# ---------------------------------------------------------------------------
# Refusals. Each names its rule and says, in a sentence, what is missing.
# ---------------------------------------------------------------------------

# Least privilege (GDPR art. 25 and 32): a contract binds this node, so only
# those who take data for their work (researchers) and those who run the
# node (operators) conclude one; legal teams and auditors read.
deny contains {
	"rule": "role_not_permitted",
	"reason": sprintf("Only researchers and operators of this node take data from a dataspace; your role is %v.", [json.marshal(role)]),
} if {
	not role in consumer_roles
}

# Purpose limitation (GDPR art. 5(1)(b)): every request states its purpose.
deny contains {
	"rule": "purpose_missing",
	"reason": "The request states no purpose; say what the data will be used for.",
} if {
	not purpose_stated
}

# Data are taken for a purpose of the federation's vocabulary, the same
# purposes its members share data for.
deny contains {
	"rule": "unknown_purpose",
	"reason": sprintf("The purpose %q is not in the federation's purpose vocabulary (%s); data are taken from a dataspace only for one of those.", [purpose, vocabulary]),
} if {
	not purpose_known
	purpose_stated
}

# Without the provider's participant id there is no one to contract with.
deny contains {
	"rule": "provider_missing",
	"reason": "The request names no provider; data are taken only from a provider named by its participant id.",
} if {
	provider_id == ""
}

# This node takes data only from providers where EU data protection applies
# or is recognised as adequate (GDPR art. 45): it must be able to rely on the
# data having been collected and passed on lawfully (GDPR art. 5(1)(a) and the
# accountability of art. 5(2)), and on remedies where the provider is.
deny contains {
	"rule": "provider_not_adequate",
	"reason": sprintf("The provider %s is in %s, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); this node takes data only from providers where EU data protection applies or is recognised as adequate.", [provider_id, country_label(provider_country)]),
} if {
	not provider_in_eu_eea
	not provider_adequate
}

# A contract is concluded on an offer: without one, nothing says what the
# data may be used for.
deny contains {
	"rule": "offer_missing",
	"reason": "The request carries no offer of the provider; data are taken only under an offer that says what they may be used for.",
} if {
	not is_object(input.offer)
}

# The offer says what the data may be used for: a purpose it does not admit
# would break the contract.
deny contains {
	"rule": "offer_purpose_excluded",
	"reason": offer_excludes_sentence,
} if {
	offer_limits_purpose
	not offer_admits_purpose
}

offer_excludes_sentence := sprintf("The provider's %s admits the data only for %s, not for the purpose %q.", [offer_name, concat(", ", sort(offer_named_purposes)), purpose]) if {
	count(offer_named_purposes) > 0
} else := sprintf("The provider's %s limits the purpose in a way that does not admit %q, or that this node's policy does not read (a constraint with another operator, or within and, or, xone).", [offer_name, purpose])

# ---------------------------------------------------------------------------
# Grants: why the request is allowed, sentence by sentence.
# ---------------------------------------------------------------------------

grants contains {
	"rule": "consumer_role",
	"reason": sprintf("The %s role may take data from a dataspace for this node.", [role]),
} if {
	role in consumer_roles
}

grants contains {
	"rule": "purpose_in_vocabulary",
	"reason": sprintf("The data are taken for %q, a purpose in the federation's vocabulary.", [purpose]),
} if {
	purpose_known
}

grants contains {
	"rule": "provider_eu_eea",
	"reason": sprintf("The provider %s is in %s, where the GDPR applies (EU/EEA).", [provider_id, country_label(provider_country)]),
} if {
	provider_in_eu_eea
}

grants contains {
	"rule": "provider_adequate",
	"reason": sprintf("The provider %s is in %s, which the EU recognises as giving adequate protection to personal data (GDPR art. 45, %s).", [provider_id, country_label(provider_country), jurisdictions.adequacy[provider_country].decision]),
} if {
	provider_adequate
}

grants contains {
	"rule": "offer_admits_purpose",
	"reason": sprintf("The provider's %s admits the purpose %q.", [offer_name, purpose]),
} if {
	offer_limits_purpose
	offer_admits_purpose
}

grants contains {
	"rule": "offer_purpose_open",
	"reason": sprintf("The provider's %s does not limit the purpose.", [offer_name]),
} if {
	is_object(input.offer)
	not offer_limits_purpose
}

# ---------------------------------------------------------------------------
# Obligations and how long the data may be used.
# ---------------------------------------------------------------------------

# Purpose limitation: the data are used for the purpose the contract names.
obligation_set contains sprintf("Use the data only for the purpose %q named in the contract agreement.", [purpose])

# What the provider's offer itself requires (its duties and prohibitions) is
# part of the contract and binds whatever this policy says.
obligation_set contains "Keep to the duties and prohibitions of the provider's offer."

# 90 days: a contract for longer is negotiated again.
limits contains 90 * day_s
