# Exchange policy: may this node share one of its datasets or models with a
# partner node that asks for it?
#
# Asked by the node that owns the resource, once per request:
#   data.xborder.exchange.decision
#
# The answer is {allow, reasons, rules, obligations, max_validity_s} and,
# when a model is allowed, the agreement it is shared under. Nothing
# is shared unless a rule below grants it and no rule below refuses it. When
# the request is refused, every refusal that applies is listed, each with the
# name of the rule that fired, so the researcher can fix all of them at once.
#
# In short:
#   - open data without personal data: any member, any stated purpose, 90 days;
#   - restricted data: a purpose from the federation's vocabulary, 60 days;
#   - sensitive data and personal health data (GDPR art. 9): an active joint
#     project with ethics approval, a purpose from the vocabulary (a
#     research-like one for health data), a recipient where EU data protection
#     applies or is recognised as adequate; pseudonymised use only, 30 days;
#   - confidential data: as sensitive data, and only for the partners the
#     owner named;
#   - models: in addition, an active model-sharing agreement in force.
#
# A participant of a dataspace outside the federation (input.requester.external:
# an organisation that negotiates over the Dataspace Protocol, named by its
# participant id) signed none of the federation's agreements and can be
# partner of no project, so it gets less than a member:
#   - open data without personal data: for a purpose of the vocabulary (the
#     purpose its contract names), 30 days;
#   - restricted data (and open data holding personal data): for a purpose of
#     the vocabulary, and only where EU data protection applies or is
#     recognised as adequate, 30 days;
#   - sensitive, confidential and personal health data: never (they are kept
#     to members, within a joint project with ethics approval);
#   - resources the owner shares only within a project: never;
#   - models: only under a model-sharing agreement naming it, which the
#     registry's agreements between members never do.
# Whatever it gets, it uses only for the purpose its contract names.
#
# Reference data: data.data.purposes (policies/data/purposes.json) and
# data.data.jurisdictions (policies/data/jurisdictions.json), imported below
# as purposes and jurisdictions.
#
# How the rules are written: this policy decides every cross-border request,
# so its rules are written to be checked quickly; the order of the lines in a
# rule does not change what the rule means.
#   - A rule that only concerns some resources starts with a test on the
#     request itself, such as input.resource.classification == "confidential"
#     or input.resource.kind == "model": the engine then skips the rule at
#     once for every other resource.
#   - A refusal starts with the line a proper request fails, such as
#     "not purpose_known" or, for the project refusals, "not project_ok" (the
#     project is not in order); so a proper request is cleared at the first
#     line of each refusal.
#   - A reason sentence is only written when its rule applies.
package xborder.exchange

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

# When allowed, the grants explain the decision, sorted by rule name, with
# their obligations and how long the grant may last. When refused, the
# refusals explain it (see fired below).
decision := {
	"allow": true,
	"reasons": [r | some [_, r] in granted],
	"rules": [n | some [n, _] in granted],
	"obligations": sort(obligation_set),
	"max_validity_s": max_validity_s,
	"agreement": agreement_used,
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

# The rules that explain a refusal, sorted by rule name: the refusals, or,
# when no rule applies at all, no_rule_allows.
fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := [["no_rule_allows", "No rule of this node's policy allows this request, so it is refused."]]

max_validity_s := min(limits) if {
	allow
} else := 0

# ---------------------------------------------------------------------------
# Facts about the request. A field that is missing or not text counts as "".
# ---------------------------------------------------------------------------

owner := input.resource.owner if {
	is_string(input.resource.owner)
} else := ""

resource_id := input.resource.id if {
	is_string(input.resource.id)
} else := ""

resource_ref := concat("/", [owner, resource_id])

kind := input.resource.kind if {
	is_string(input.resource.kind)
} else := ""

# "dataset" or "model", for the sentences.
noun := kind if {
	kind in {"dataset", "model"}
} else := "resource"

classification := input.resource.classification if {
	is_string(input.resource.classification)
} else := ""

requester_node := input.requester.node if {
	is_string(input.requester.node)
} else := ""

requester_country := upper(input.requester.country) if {
	is_string(input.requester.country)
} else := ""

purpose := input.purpose if {
	is_string(input.purpose)
} else := ""

has_project if is_object(input.project)

# A participant of a dataspace outside the federation, not a member.
external_requester if input.requester.external == true

# How the sentences name the requester: a member's node, or the
# organisation a participant of the dataspace is.
addressee := "organisation" if {
	external_requester
} else := "node"

project_id := input.project.id if {
	is_string(input.project.id)
} else := ""

project_status := input.project.status if {
	is_string(input.project.status)
} else := ""

# "Germany (DE)"; just the code for a country the lists do not name.
country_label(cc) := sprintf("%s (%s)", [jurisdictions.eu[cc].name, cc]) if {
	jurisdictions.eu[cc]
} else := sprintf("%s (%s)", [jurisdictions.eea[cc].name, cc]) if {
	jurisdictions.eea[cc]
} else := sprintf("%s (%s)", [jurisdictions.adequacy[cc].name, cc]) if {
	jurisdictions.adequacy[cc]
} else := cc

vocabulary := concat(", ", sort(object.keys(purposes)))

# ---------------------------------------------------------------------------
# How the resource is handled.
# ---------------------------------------------------------------------------

# Personal data about health are a special category of personal data
# (GDPR art. 9(1)), whatever classification the owner gave them.
personal_health if {
	input.resource.personal_data == true
	input.resource.theme == "health"
}

# Sensitive and confidential data, and personal health data, get the
# strictest handling.
special if input.resource.classification in {"sensitive", "confidential"}

special if personal_health

# Personal data are never open data: a dataset marked open that holds
# personal data is handled as restricted data (GDPR art. 5(1)(b) and 6:
# personal data are processed only for specified purposes, on a legal basis).
open_with_personal_data if {
	input.resource.classification == "open"
	input.resource.personal_data == true
	not personal_health
}

handling := "special" if {
	special
} else := "restricted" if {
	input.resource.classification == "restricted"
} else := "restricted" if {
	open_with_personal_data
} else := "open" if {
	input.resource.classification == "open"
}

# ---------------------------------------------------------------------------
# Conditions, stated positively; each refusal below is the negation of one.
# ---------------------------------------------------------------------------

cross_border if {
	requester_node != ""
	requester_node != owner
}

purpose_stated if trim_space(purpose) != ""

purpose_known if purposes[purpose]

purpose_research_like if purposes[purpose].research == true

# A joint project is needed for sensitive, confidential and personal health
# data, and whenever the owner marked the resource as project-only.
project_needed if special

project_needed if input.resource.requires_project == true

project_lists_resource if resource_ref in input.project.datasets

project_lists_requester if requester_node in input.project.partners

# The project is active and lists both the resource and the requester.
project_ok if {
	input.project.status == "active"
	project_lists_resource
	project_lists_requester
}

ethics_ref := trim_space(input.project.ethics_ref) if {
	is_string(input.project.ethics_ref)
} else := ""

# Where the GDPR applies: the EU and the EEA.
requester_in_eu_eea if jurisdictions.eu[requester_country]

requester_in_eu_eea if jurisdictions.eea[requester_country]

# Where the EU recognises the protection as adequate (GDPR art. 45).
requester_adequate if jurisdictions.adequacy[requester_country]

# Transfer rules apply to personal data and to all specially handled data.
transfer_rules_apply if input.resource.personal_data == true

transfer_rules_apply if special

# Outside the federation, restricted data too go only where EU data
# protection applies or is recognised as adequate: the participant is bound
# by no agreement of the federation, only by the law where it is.
transfer_rules_apply if {
	input.requester.external == true
	handling == "restricted"
}

confidential_partner if requester_node in input.resource.partners

# ---------------------------------------------------------------------------
# Models: the model-sharing agreement.
# ---------------------------------------------------------------------------

now_ns := time.parse_rfc3339_ns(input.time)

agreement_in_force(a) if {
	time.parse_rfc3339_ns(a.valid_from) <= now_ns
	now_ns < time.parse_rfc3339_ns(a.valid_until)
}

agreement_parties_ok(a) if {
	owner in a.parties
	requester_node in a.parties
}

agreement_covers_purpose(a) if purpose in a.purposes

agreement_ok(a) if {
	a.status == "active"
	agreement_in_force(a)
	a.model == resource_ref
	agreement_parties_ok(a)
	agreement_covers_purpose(a)
}

valid_agreements contains a if {
	input.resource.kind == "model"
	some a in input.agreements
	agreement_ok(a)
}

# When several agreements qualify, the one that runs longest is used.
ranked_agreements := sort([[0 - time.parse_rfc3339_ns(a.valid_until), a.id] |
	some a in valid_agreements
])

chosen_agreement_id := ranked_agreements[0][1]

chosen_agreement_until_ns := 0 - ranked_agreements[0][0]

# The agreement a model is shared under, named in the grant; "" for data.
agreement_used := chosen_agreement_id if {
	input.resource.kind == "model"
	count(valid_agreements) > 0
} else := ""

chosen_agreement_until := [a.valid_until |
	some a in valid_agreements
	a.id == chosen_agreement_id
][0]

# ---------------------------------------------------------------------------
# Refusals. Each names its rule and says, in a sentence, what is missing.
# ---------------------------------------------------------------------------

# Not a cross-border exchange: a node serves its own data locally and needs
# no grant from itself.
deny contains {
	"rule": "own_resource",
	"reason": sprintf("Your node %s owns %s; a node uses its own data locally, so there is no cross-border exchange to grant.", [owner, resource_ref]),
} if {
	input.requester.node == input.resource.owner
	requester_node != ""
}

# Only datasets and models are exchanged.
deny contains {
	"rule": "unknown_kind",
	"reason": sprintf("%s is of kind %q; only datasets and models can be requested.", [resource_ref, kind]),
} if {
	not input.resource.kind == "dataset"
	not input.resource.kind == "model"
}

# Every resource must carry one of the four classifications; without one we
# cannot tell which protection applies, so we refuse.
deny contains {
	"rule": "unknown_classification",
	"reason": sprintf("%s has the classification %q, which is none of open, restricted, sensitive or confidential; the owner must classify it before it can be shared.", [resource_ref, classification]),
} if {
	not input.resource.classification == "open"
	not input.resource.classification == "restricted"
	not input.resource.classification == "sensitive"
	not input.resource.classification == "confidential"
}

# Purpose limitation (GDPR art. 5(1)(b)): every request states its purpose.
deny contains {
	"rule": "purpose_missing",
	"reason": sprintf("The request states no purpose; say what the %s will be used for.", [noun]),
} if {
	trim_space(purpose) == ""
}

# Restricted, sensitive, confidential and personal data are shared only for a
# purpose from the federation's vocabulary (policies/data/purposes.json).
deny contains {
	"rule": "unknown_purpose",
	"reason": sprintf("The purpose %q is not in the federation's purpose vocabulary (%s); %s is shared only for one of those.", [purpose, vocabulary, resource_ref]),
} if {
	not purpose_known
	purpose_stated
	handling in {"restricted", "special"}
}

# Outside the federation, open data too are shared only for a purpose of the
# vocabulary: the purpose is what the participant's contract names.
deny contains {
	"rule": "unknown_purpose",
	"reason": sprintf("The purpose %q is not in the federation's purpose vocabulary (%s); %s is shared only for one of those.", [purpose, vocabulary, resource_ref]),
} if {
	input.requester.external == true
	not purpose_known
	purpose_stated
	handling == "open"
}

# Personal health data may be processed only for scientific research,
# statistics or public health (GDPR art. 9(2)(i) and (j), with the
# safeguards of art. 89).
deny contains {
	"rule": "health_data_research_only",
	"reason": sprintf("%s holds personal health data (GDPR art. 9), which are shared only for research, statistics or public health (GDPR art. 89); the purpose %q is not one of those.", [resource_ref, purpose]),
} if {
	# personal health data:
	input.resource.personal_data == true
	input.resource.theme == "health"
	not purpose_research_like
	purpose_known
}

# The joint-project requirement: named after why it applies.
project_rule := "sensitive_requires_project" if {
	special
} else := "owner_requires_project"

project_requirement := sprintf("%s is sensitive, confidential or personal health data and is shared only within an active joint project of the federation registry", [resource_ref]) if {
	special
} else := sprintf("The owner shares %s only within an active joint project of the federation registry", [resource_ref])

# The project refusals below are looked at only when a project is needed and
# the one named is not in order (not active, or not listing the resource and
# the requester); a request within a proper project passes them all here.
deny contains refusal if {
	not project_ok
	project_needed
	not external_requester
	some refusal in project_refusal
}

# Sensitive, confidential and personal health data, and resources the owner
# marked project-only, are shared only within a registered joint project.
project_refusal contains {
	"rule": project_rule,
	"reason": sprintf("%s; the request names no project, or one the registry does not know.", [project_requirement]),
} if {
	not has_project
}

# The project must be running.
project_refusal contains {
	"rule": "project_not_active",
	"reason": sprintf("Project %s is %s, not active; %s is shared only within an active project.", [project_id, project_status, resource_ref]),
} if {
	not input.project.status == "active"
	has_project
}

# The project must list the resource: the owner attached it to the project.
project_refusal contains {
	"rule": "dataset_not_in_project",
	"reason": sprintf("Project %s does not list %s; its owner must attach it to the project first.", [project_id, resource_ref]),
} if {
	has_project
	not project_lists_resource
}

# The requester must be a partner of the project.
project_refusal contains {
	"rule": "requester_not_in_project",
	"reason": sprintf("Your node %s is not a partner of project %s; only the project's partners receive its data.", [requester_node, project_id]),
} if {
	has_project
	not project_lists_requester
}

# Research on special-category data needs an ethics approval (GDPR art. 9(2)(j)
# and art. 89 safeguards; national research law, e.g. the French CPP).
deny contains {
	"rule": "ethics_approval_missing",
	"reason": sprintf("Project %s has no ethics approval reference; sensitive and personal health data are shared only with an ethics approval.", [project_id]),
} if {
	ethics_ref == ""
	has_project
	special
	not external_requester
}

# Transfers of personal data out of the EU/EEA need an adequacy decision
# (GDPR art. 44 and 45); the federation applies the same rule to sensitive
# and confidential data.
deny contains {
	"rule": "transfer_not_adequate",
	"reason": sprintf("Your %s is in %s, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); %s may not be transferred there.", [addressee, country_label(requester_country), resource_ref]),
} if {
	transfer_rules_apply
	not requester_in_eu_eea
	not requester_adequate
}

# Confidential data go only to the partners the owner named.
deny contains {
	"rule": "confidential_not_partner",
	"reason": sprintf("%s is confidential and shared only with the partners its owner named; your node %s is not one of them.", [resource_ref, requester_node]),
} if {
	input.resource.classification == "confidential"
	not confidential_partner
	not external_requester
}

# Models are shared only under a model-sharing agreement signed by the owner
# and the requester and committed to the registry (contract law; for models
# trained on personal data, GDPR art. 28 and 46 terms live in the agreement).
deny contains {
	"rule": "model_requires_agreement",
	"reason": sprintf("The model %s is shared only under an active model-sharing agreement in force now that names %s and your node %s as parties and covers the purpose %q; no agreement in the registry does.", [resource_ref, owner, requester_node, purpose]),
} if {
	input.resource.kind == "model"
	count(valid_agreements) == 0
	not external_requester
}

# The same for a participant of the dataspace: the registry's agreements are
# signed by members of the federation, so none names it.
deny contains {
	"rule": "model_requires_agreement",
	"reason": sprintf("The model %s is shared only under an active model-sharing agreement in force now that names %s and your organisation %s as parties and covers the purpose %q; such agreements are signed by members of the federation and committed to its registry, and none names your organisation.", [resource_ref, owner, requester_node, purpose]),
} if {
	input.resource.kind == "model"
	input.requester.external == true
	count(valid_agreements) == 0
}

# Why each agreement in the registry does not qualify (only when none does).
agreement_problem contains {
	"rule": "agreement_not_active",
	"reason": sprintf("Agreement %s has the status %q, not active.", [a.id, a.status]),
} if {
	some a in input.agreements
	a.status != "active"
}

agreement_problem contains {
	"rule": "agreement_not_in_force",
	"reason": sprintf("Agreement %s is not in force now: it runs from %s until %s.", [a.id, a.valid_from, a.valid_until]),
} if {
	some a in input.agreements
	not agreement_in_force(a)
}

agreement_problem contains {
	"rule": "agreement_other_model",
	"reason": sprintf("Agreement %s covers the model %s, not %s.", [a.id, a.model, resource_ref]),
} if {
	some a in input.agreements
	a.model != resource_ref
}

agreement_problem contains {
	"rule": "agreement_parties",
	"reason": sprintf("Agreement %s does not name both %s and your %s %s as parties.", [a.id, owner, addressee, requester_node]),
} if {
	some a in input.agreements
	not agreement_parties_ok(a)
}

agreement_problem contains {
	"rule": "agreement_purpose",
	"reason": sprintf("Agreement %s does not cover the purpose %q.", [a.id, purpose]),
} if {
	some a in input.agreements
	not agreement_covers_purpose(a)
}

deny contains p if {
	input.resource.kind == "model"
	count(valid_agreements) == 0
	some p in agreement_problem
}

# Sensitive, confidential and personal health data are shared only within an
# active joint project of the federation with an ethics approval (GDPR art.
# 9(2)(j) and 89 safeguards); a project's partners are members, so a
# participant of the dataspace outside the federation never receives them.
deny contains {
	"rule": "special_data_members_only",
	"reason": sprintf("%s %s; such data are shared only with members of the federation, within an active joint project that has an ethics approval, never with a participant of the dataspace outside the federation.", [resource_ref, special_what]),
} if {
	input.requester.external == true
	special
}

special_what := "holds personal health data (GDPR art. 9)" if {
	personal_health
} else := sprintf("is %s data", [classification])

# A resource the owner shares only within a joint project: a project's
# partners are members of the federation.
deny contains {
	"rule": "project_members_only",
	"reason": sprintf("The owner shares %s only within an active joint project of the federation, whose partners are its members; a participant of the dataspace outside the federation cannot be one.", [resource_ref]),
} if {
	input.requester.external == true
	input.resource.requires_project == true
	not special
}

# ---------------------------------------------------------------------------
# Grants: why the request is allowed, sentence by sentence.
# ---------------------------------------------------------------------------

# Open data without personal data: shared with any member for any stated
# purpose (EU Open Data Directive 2019/1024 spirit; no GDPR constraint).
grants contains {
	"rule": "open_data",
	"reason": sprintf("%s is open data without personal data; any member may use it for the stated purpose %q.", [resource_ref, purpose]),
} if {
	input.resource.classification == "open"
	handling == "open"
	not external_requester
	cross_border
	purpose_stated
}

# Open data without personal data, for a participant of the dataspace: for a
# purpose of the vocabulary, the one its contract names.
grants contains {
	"rule": "open_data_dataspace",
	"reason": sprintf("%s is open data without personal data; a participant of the dataspace outside the federation may use it for %q, a purpose in the federation's vocabulary.", [resource_ref, purpose]),
} if {
	input.requester.external == true
	input.resource.classification == "open"
	handling == "open"
	cross_border
	purpose_known
}

# Restricted data: for a purpose of the vocabulary.
grants contains {
	"rule": "restricted_data",
	"reason": sprintf("%s is restricted data, shared for %q, a purpose in the federation's vocabulary.", [resource_ref, purpose]),
} if {
	# restricted data, or open data holding personal data:
	input.resource.classification in {"restricted", "open"}
	handling == "restricted"
	cross_border
	purpose_known
}

# Explains why data marked open are handled as restricted.
grants contains {
	"rule": "personal_data_not_open",
	"reason": sprintf("%s is marked open but holds personal data; personal data are never open data, so the rules for restricted data apply.", [resource_ref]),
} if {
	input.resource.classification == "open"
	open_with_personal_data
	cross_border
	purpose_known
}

# Sensitive data within an approved project.
grants contains {
	"rule": "sensitive_data",
	"reason": sprintf("%s is %s data, shared for %q within the active joint project %s, which has the ethics approval %s.", [resource_ref, classification, purpose, project_id, ethics_ref]),
} if {
	input.resource.classification in {"sensitive", "confidential"}
	cross_border
	purpose_known
	project_ok
	ethics_ref != ""
}

# Personal health data (GDPR art. 9): research-like purpose, approved project.
grants contains {
	"rule": "health_data_research",
	"reason": sprintf("%s holds personal health data (GDPR art. 9); it is shared for %q, a research-like purpose (GDPR art. 9(2)(j) and 89), within the active joint project %s, which has the ethics approval %s.", [resource_ref, purpose, project_id, ethics_ref]),
} if {
	# personal health data:
	input.resource.personal_data == true
	input.resource.theme == "health"
	cross_border
	purpose_research_like
	project_ok
	ethics_ref != ""
}

# Restricted data the owner marked project-only, within its project.
grants contains {
	"rule": "within_project",
	"reason": sprintf("The request is made within the active joint project %s, which lists %s and your node %s as a partner.", [project_id, resource_ref, requester_node]),
} if {
	input.resource.requires_project == true
	not special
	cross_border
	project_ok
}

# The recipient is where the GDPR applies.
grants contains {
	"rule": "transfer_eu_eea",
	"reason": sprintf("Your %s is in %s, where the GDPR applies (EU/EEA).", [addressee, country_label(requester_country)]),
} if {
	transfer_rules_apply
	requester_in_eu_eea
	cross_border
}

# The recipient is in a country with an EU adequacy decision (GDPR art. 45).
grants contains {
	"rule": "transfer_adequate",
	"reason": sprintf("Your %s is in %s, which the EU recognises as giving adequate protection to personal data (GDPR art. 45, %s).", [addressee, country_label(requester_country), jurisdictions.adequacy[requester_country].decision]),
} if {
	transfer_rules_apply
	requester_adequate
	cross_border
}

# Confidential data: the requester is a partner the owner named.
grants contains {
	"rule": "confidential_partner",
	"reason": sprintf("%s is confidential and its owner named your node %s among the partners who may receive it.", [resource_ref, requester_node]),
} if {
	input.resource.classification == "confidential"
	cross_border
	confidential_partner
}

# The model is covered by a model-sharing agreement.
grants contains {
	"rule": "model_agreement",
	"reason": sprintf("The model is shared under agreement %s, in force until %s, which names %s and your node %s as parties and covers the purpose %q.", [chosen_agreement_id, chosen_agreement_until, owner, requester_node, purpose]),
} if {
	input.resource.kind == "model"
	cross_border
	count(valid_agreements) > 0
}

# ---------------------------------------------------------------------------
# Obligations attached to a grant.
# ---------------------------------------------------------------------------

# Special-category and sensitive data: data minimisation and storage
# limitation (GDPR art. 5(1)(c) and (e), art. 89(1) pseudonymisation).
obligation_set contains o if {
	special
	some o in [
		"Use the data only in pseudonymised form.",
		"Do not attempt to re-identify any person.",
		"Delete the data when the grant expires.",
	]
}

# A model is used only under its agreement.
obligation_set contains sprintf("Use the model only under agreement %s.", [chosen_agreement_id]) if {
	input.resource.kind == "model"
	count(valid_agreements) > 0
}

# Adequacy decisions limited to some recipients (e.g. the EU-US Data Privacy
# Framework covers only certified organisations).
obligation_set contains jurisdictions.adequacy[requester_country].condition if {
	requester_adequate
	transfer_rules_apply
}

# A participant of the dataspace uses what it gets only for the purpose its
# contract names (purpose limitation, GDPR art. 5(1)(b), and the contract's
# purpose constraint).
obligation_set contains sprintf("Use the %s only for the purpose %q named in the contract agreement.", [noun, purpose]) if {
	input.requester.external == true
}

# ---------------------------------------------------------------------------
# How long a grant may last: the shortest limit that applies.
# ---------------------------------------------------------------------------

# Open data: 90 days.
limits contains 90 * day_s if {
	input.resource.classification == "open"
	handling == "open"
}

# Restricted data: 60 days.
limits contains 60 * day_s if {
	input.resource.classification in {"restricted", "open"}
	handling == "restricted"
}

# Sensitive, confidential and personal health data: 30 days (storage
# limitation, GDPR art. 5(1)(e)).
limits contains 30 * day_s if special

# Models: 90 days, and never beyond the end of the agreement.
limits contains 90 * day_s if input.resource.kind == "model"

# A participant of the dataspace: 30 days, whatever it gets; its contract is
# negotiated again after that.
limits contains 30 * day_s if input.requester.external == true

limits contains floor((chosen_agreement_until_ns - now_ns) / 1000000000) if {
	input.resource.kind == "model"
	count(valid_agreements) > 0
}
