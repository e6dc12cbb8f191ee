# Membership policy: does this node vote yes for a candidate partner?
#
# Asked by each member when a new partner is proposed:
#   data.xborder.membership.decision
#
# allow true means this node votes yes. The candidate joins when a majority
# of members vote yes; counting votes is the registry's job, not this file's.
#
# A new partner receives catalogue metadata at once and, through the
# exchange policy, may later receive personal data. So this node votes yes
# only for a candidate:
#   - in the EU/EEA, or in a country with an EU adequacy decision
#     (GDPR art. 45), so that personal data may flow to it;
#   - naming the organisation that answers for the node;
#   - with a name no member already uses.
#
# The same decision answers a re-key vote (input.action == "rekey"): the
# candidate is then an existing member, with the peer ID of the node key
# that is to replace its lost or stolen one (input.former_peer_id). The
# member keeps its name, country and history; this node votes yes when the
# name is a member's and the country rules above still hold, and reminds
# its operator to confirm the new key with the member out of band.
#
# Reference data: data.data.jurisdictions (policies/data/jurisdictions.json),
# imported below as jurisdictions.
package xborder.membership

import data.data.jurisdictions

default allow := false

allow if {
	count(grants) > 0
	count(deny) == 0
}

decision := {
	"allow": allow,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": obligations,
	"max_validity_s": 0,
}

fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := sort([[g.rule, g.reason] | some g in grants]) if {
	count(grants) > 0
} else := [["no_rule_allows", "No rule of this node's policy supports this candidate, so this node votes no."]]

obligations := sort(obligation_set) if {
	allow
} else := []

# ---------------------------------------------------------------------------
# Facts about the candidate.
# ---------------------------------------------------------------------------

# A field that is missing or not text counts as "".
name := input.candidate.name if {
	is_string(input.candidate.name)
} else := ""

org := trim_space(input.candidate.org) if {
	is_string(input.candidate.org)
} else := ""

country := upper(input.candidate.country) if {
	is_string(input.candidate.country)
} else := ""

member_names := {m.name | some m in input.members}

# add (an admission, also when the field is missing) or rekey.
action := input.action if {
	is_string(input.action)
} else := "add"

rekey if action == "rekey"

peer_id := input.candidate.peer_id if {
	is_string(input.candidate.peer_id)
} else := ""

former_peer_id := input.former_peer_id if {
	is_string(input.former_peer_id)
} else := ""

# The country's name, from the first list that names it.
country_name := n if {
	n := jurisdictions.eu[country].name
} else := n if {
	n := jurisdictions.eea[country].name
} else := n if {
	n := jurisdictions.adequacy[country].name
} else := n if {
	n := jurisdictions.cooperation_area[country].name
}

country_label := sprintf("%s (%s)", [country_name, country]) if {
	country_name
} else := country if {
	country != ""
} else := "no country"

in_eu_eea if jurisdictions.eu[country]

in_eu_eea if jurisdictions.eea[country]

adequate if jurisdictions.adequacy[country]

# ---------------------------------------------------------------------------
# Refusals.
# ---------------------------------------------------------------------------

# Personal data may flow only to the EU/EEA or an adequate country
# (GDPR art. 44 and 45); a member outside them could not receive what the
# federation exists to share.
deny contains {
	"rule": "country_not_adequate",
	"reason": sprintf("The candidate %s is in %s, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45), so personal data could not be shared with it.", [name, country_label]),
} if {
	not in_eu_eea
	not adequate
}

# A member is a public body or institution that answers for its node and its
# researchers (accountability, GDPR art. 5(2) and 24).
deny contains {
	"rule": "org_missing",
	"reason": sprintf("The candidate %s names no organisation; a member must say which organisation answers for its node.", [name]),
} if {
	org == ""
}

deny contains {
	"rule": "name_missing",
	"reason": "The candidate has no name; a member is known by its node name, such as de-saarland.",
} if {
	trim_space(name) == ""
}

# Node names identify members in projects, agreements and audit records.
deny contains {
	"rule": "name_taken",
	"reason": sprintf("A member named %s already exists; the candidate needs another name.", [name]),
} if {
	not rekey
	name in member_names
}

deny contains {
	"rule": "action_unknown",
	"reason": sprintf("This node votes on admissions (add) and key replacements (rekey), not on %v.", [json.marshal(action)]),
} if {
	not action in {"add", "rekey"}
}

# A re-key moves a member's seat to a new key: only an existing member's.
deny contains {
	"rule": "rekey_not_member",
	"reason": sprintf("%s is not a member, so there is no key of it to replace; a new partner is admitted instead.", [name]),
} if {
	rekey
	not name in member_names
}

# ---------------------------------------------------------------------------
# Grants: why this node votes yes.
# ---------------------------------------------------------------------------

grants contains {
	"rule": "candidate_eu_eea",
	"reason": sprintf("The candidate %s (%s) is in %s, where the GDPR applies (EU/EEA).", [name, org, country_label]),
} if {
	in_eu_eea
}

grants contains {
	"rule": "candidate_adequate",
	"reason": sprintf("The candidate %s (%s) is in %s, which the EU recognises as giving adequate protection to personal data (GDPR art. 45, %s).", [name, org, country_label, jurisdictions.adequacy[country].decision]),
} if {
	adequate
}

grants contains {
	"rule": "rekey_member",
	"reason": sprintf("%s (%s) is a member: the vote replaces its node key %s by %s and keeps its name, country and history.", [name, org, former_peer_id, peer_id]),
} if {
	rekey
	name in member_names
}

# Whoever holds the new key speaks for the member from the vote on: the
# request must come from the member's operator, not only over the network.
obligation_set contains sprintf("Before voting yes, confirm with the operator of %s, by a channel outside the federation (a call to a known number, a signed letter), that peer ID %s is its new node key.", [name, peer_id]) if {
	rekey
}

# Adequacy decisions limited to some recipients (e.g. the EU-US Data Privacy
# Framework covers only certified organisations): check before voting.
obligation_set contains sprintf("Before voting yes, check this condition of the adequacy decision: %s", [jurisdictions.adequacy[country].condition]) if {
	adequate
}
