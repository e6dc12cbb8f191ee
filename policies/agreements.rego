# Agreements policy: does this node sign a proposed model-sharing agreement?
#
# Asked by each party when an agreement is sent to it for signature:
#   data.xborder.agreements.decision
#
# The answer is {allow, reasons, rules, obligations, max_validity_s}; allow
# true means this node may sign. An agreement lets its parties use a model
# (exchange.rego checks it on every model request), so this file checks
# that the agreement itself is lawful and complete:
#   - this node is a party, and there are at least two parties;
#   - the model's owner and every region whose datasets trained the model are
#     parties (provenance: nobody shares a model built on another region's
#     data behind that region's back);
#   - every purpose is in the federation's vocabulary;
#   - the validity is well formed, at most three years, and not over yet;
#   - a model trained on personal health data goes only to parties in the
#     EU/EEA or an adequate country, and only for research-like purposes.
#
# Reference data: data.data.purposes and data.data.jurisdictions
# (policies/data/*.json), imported below as purposes and jurisdictions.
package xborder.agreements

import data.data.jurisdictions
import data.data.purposes

# ---------------------------------------------------------------------------
# The decision, assembled from the rules below.
# ---------------------------------------------------------------------------

default allow := false

# This node signs when a rule grants and no rule refuses.
allow if {
	count(grants) > 0
	count(deny) == 0
}

decision := {
	"allow": allow,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": obligations,
	"max_validity_s": max_validity_s,
}

fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := sort([[g.rule, g.reason] | some g in grants]) if {
	count(grants) > 0
} else := [["no_rule_allows", "No rule of this node's policy allows signing this agreement, so it is not signed."]]

obligations := sort(obligation_set) if {
	allow
} else := []

# A signature lasts as long as the agreement.
max_validity_s := floor((until_ns - now_ns) / 1000000000) if {
	allow
} else := 0

# ---------------------------------------------------------------------------
# Facts about the proposed agreement.
# ---------------------------------------------------------------------------

# The proposal is input.agreement (named agreement in the sentences), its
# model input.agreement.model; a field that is missing reads as "" in the
# sentences.
agreement := input.agreement

agreement_id := sprintf("%v", [object.get(input, ["agreement", "id"], "")])

model_owner := sprintf("%v", [object.get(input, ["agreement", "model", "owner"], "")])

model_ref := sprintf("%s/%v", [model_owner, object.get(input, ["agreement", "model", "id"], "")])

self_node := sprintf("%v", [object.get(input, ["self", "node"], "")])

party_nodes := {p.node | some p in input.agreement.parties}

agreement_purposes := {p | some p in input.agreement.purposes}

purposes_text := concat(", ", sort(agreement_purposes))

vocabulary := concat(", ", sort(object.keys(purposes)))

# Dates: RFC 3339 timestamps, e.g. 2026-01-01T00:00:00Z.
from_ns := time.parse_rfc3339_ns(input.agreement.valid_from)

until_ns := time.parse_rfc3339_ns(input.agreement.valid_until)

now_ns := time.parse_rfc3339_ns(input.time)

dates_parse if {
	from_ns
	until_ns
}

# Three calendar years after the start.
longest_until_ns := time.add_date(from_ns, 3, 0, 0)

country_label(cc) := cc if {
	cc != ""
} else := "an unknown country"

party_country(p) := upper(p.country) if {
	is_string(p.country)
} else := ""

# Where the GDPR applies (EU/EEA) or the EU recognises the protection as
# adequate (GDPR art. 45).
safe_country(cc) if jurisdictions.eu[cc]

safe_country(cc) if jurisdictions.eea[cc]

safe_country(cc) if jurisdictions.adequacy[cc]

# A model trained on personal health data (GDPR art. 9 special category):
# the model itself may carry information about the persons in its training
# data (memorisation, membership inference), so it is treated like the data.
trained_on_personal_health if {
	input.agreement.model.personal_data == true
	input.agreement.model.theme == "health"
}

trained_on_personal_health if {
	some d in input.agreement.model.training_datasets
	d.personal_data == true
}

# The regions whose datasets trained the model.
training_owners := {d.owner | some d in input.agreement.model.training_datasets}

# ---------------------------------------------------------------------------
# Refusals.
# ---------------------------------------------------------------------------

# A node signs only agreements it is a party to.
deny contains {
	"rule": "self_not_party",
	"reason": sprintf("This node %s is not a party to agreement %s, so it has nothing to sign.", [self_node, agreement_id]),
} if {
	not self_node in party_nodes
}

# An agreement binds at least two parties.
deny contains {
	"rule": "too_few_parties",
	"reason": sprintf("Agreement %s names fewer than two distinct parties; a model-sharing agreement needs at least two.", [agreement_id]),
} if {
	count(party_nodes) < 2
}

# The owner of the model must be a party: it grants the use of its model.
deny contains {
	"rule": "model_owner_not_party",
	"reason": sprintf("The model's owner %s is not a party to agreement %s; only its owner can share the model %s.", [model_owner, agreement_id, model_ref]),
} if {
	not model_owner in party_nodes
}

# Provenance: every region whose data trained the model is a party, so each
# controller of the training data agrees to what is done with the model
# (GDPR art. 5(1)(b) purpose limitation, art. 26 joint controllers).
deny contains {
	"rule": "training_data_owner_not_party",
	"reason": sprintf("Datasets of %s trained the model %s, but %s is not a party to agreement %s; every region whose data trained a model must be a party.", [o, model_ref, o, agreement_id]),
} if {
	some o in training_owners
	not o in party_nodes
}

# Purpose limitation (GDPR art. 5(1)(b)): the agreement names its purposes.
deny contains {
	"rule": "purpose_missing",
	"reason": sprintf("Agreement %s names no purpose; an agreement must say what the model will be used for.", [agreement_id]),
} if {
	count(agreement_purposes) == 0
}

# Every purpose comes from the federation's vocabulary.
deny contains {
	"rule": "unknown_purpose",
	"reason": sprintf("The purpose %v of agreement %s is not in the federation's purpose vocabulary (%s).", [json.marshal(p), agreement_id, vocabulary]),
} if {
	some p in agreement_purposes
	not purposes[p]
}

# Dates must be readable to tell whether the agreement is in force.
deny contains {
	"rule": "invalid_dates",
	"reason": sprintf("Agreement %s needs valid_from and valid_until as RFC 3339 timestamps (for example 2026-01-01T00:00:00Z).", [agreement_id]),
} if {
	not dates_parse
}

deny contains {
	"rule": "validity_order",
	"reason": sprintf("Agreement %s ends (%s) before or when it starts (%s).", [agreement_id, agreement.valid_until, agreement.valid_from]),
} if {
	until_ns <= from_ns
}

# Storage limitation (GDPR art. 5(1)(e)) and periodic review: at most three
# years; the parties renew the agreement if they still need it.
deny contains {
	"rule": "validity_too_long",
	"reason": sprintf("Agreement %s runs from %s until %s, longer than the three years an agreement may last.", [agreement_id, agreement.valid_from, agreement.valid_until]),
} if {
	until_ns > longest_until_ns
}

# (Helpers keep "not" around whole conditions: a missing time or date then
# counts as failing the condition.)
still_running if until_ns > now_ns

deny contains {
	"rule": "agreement_expired",
	"reason": sprintf("Agreement %s ended on %s; an agreement that is already over cannot be signed.", [agreement_id, agreement.valid_until]),
} if {
	dates_parse
	not still_running
}

# International transfers of a model trained on personal health data only to
# the EU/EEA or an adequate country (GDPR art. 44 and 45).
deny contains {
	"rule": "party_not_adequate",
	"reason": sprintf("The model %s was trained on personal health data, and party %s is in %s, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45).", [model_ref, p.node, country_label(party_country(p))]),
} if {
	trained_on_personal_health
	some p in input.agreement.parties
	not safe_country(party_country(p))
}

# Personal health data serve only research, statistics and public health
# (GDPR art. 9(2)(i) and (j), art. 89).
deny contains {
	"rule": "health_model_research_only",
	"reason": sprintf("The model %s was trained on personal health data (GDPR art. 9), so it is shared only for research, statistics or public health (GDPR art. 89); the purpose %v is not one of those.", [model_ref, json.marshal(p)]),
} if {
	trained_on_personal_health
	some p in agreement_purposes
	purposes[p].research != true
}

# ---------------------------------------------------------------------------
# Grants: why this node may sign.
# ---------------------------------------------------------------------------

grants contains {
	"rule": "agreement_acceptable",
	"reason": sprintf("This node %s is a party to agreement %s on the model %s with %s; its purposes (%s) are in the federation's vocabulary and it runs until %s, at most three years.", [self_node, agreement_id, model_ref, concat(", ", sort(party_nodes - {self_node})), purposes_text, agreement.valid_until]),
} if {
	self_node in party_nodes
	dates_parse
}

grants contains {
	"rule": "provenance",
	"reason": sprintf("Every region whose datasets trained the model (%s) is a party.", [concat(", ", sort(training_owners))]),
} if {
	count(training_owners) > 0
	every o in training_owners {
		o in party_nodes
	}
}

grants contains {
	"rule": "health_model_safeguards",
	"reason": "The model was trained on personal health data; every party is in the EU/EEA or an adequate country and every purpose is research-like (GDPR art. 9, 45 and 89).",
} if {
	trained_on_personal_health
}

# ---------------------------------------------------------------------------
# Obligations of a signed agreement.
# ---------------------------------------------------------------------------

obligation_set contains sprintf("Use and share the model %s only under agreement %s, for its purposes, until %s.", [model_ref, agreement_id, agreement.valid_until])

# Adequacy decisions limited to some recipients (e.g. the EU-US Data Privacy
# Framework covers only certified organisations).
obligation_set contains sprintf("For party %s: %s", [p.node, jurisdictions.adequacy[party_country(p)].condition]) if {
	trained_on_personal_health
	some p in input.agreement.parties
}
