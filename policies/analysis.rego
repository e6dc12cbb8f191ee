# Analysis policy: may a researcher run a statistical analysis on one of this
# node's datasets, and what may its result show?
#
# Asked by the node that owns the dataset, once per analysis:
#   data.xborder.analysis.decision
#
# In a federated analysis the rows never leave their owner. A researcher's
# node asks each owner for a statistic (a summary, a table, a histogram, a
# correlation or a generalised linear model, "glm"); the owner's node
# computes it on its own rows and sends back only the aggregate. This policy
# decides who may ask for which analysis of which dataset and for which
# purpose, and sets the disclosure limits the node holds every result to:
# how many persons must stand behind each figure it releases.
#
# The answer is {allow, reasons, rules, obligations, max_validity_s, limits}.
# max_validity_s is always 0: an analysis grants nothing that lasts, each
# analysis is decided anew. limits is given with every answer; when the
# analysis is allowed, the node enforces it on the result (see "Disclosure
# limits" below). Nothing is run unless a rule below grants it and no rule
# below refuses it. When the analysis is refused, every refusal that applies
# is listed, each with the name of the rule that fired.
#
# In short:
#   - open data without personal data: any member, for a purpose from the
#     federation's vocabulary;
#   - restricted data: a purpose from the vocabulary;
#   - sensitive data and any personal data: an active joint project with
#     ethics approval that lists the dataset and the requester, a
#     research-like purpose (GDPR art. 89), a requester where EU data
#     protection applies or is recognised as adequate;
#   - confidential data: as sensitive data, and only for the partners the
#     owner named;
#   - only the analyses the node knows (summary, table, histogram,
#     correlation, glm, evaluate, module), and a glm only of the gaussian,
#     binomial or poisson family;
#   - a program run on the data (a model's predictor for "evaluate", an
#     analysis module for "module"): only one this node's member approved
#     in the registry for the request's project, of the right kind, not
#     withdrawn, and only within that project, which lists the dataset;
#   - disclosure limits: at least 5 persons behind every figure, 10 for
#     personal health data; see "Disclosure limits" below.
#
# An aggregate of personal data is still the result of processing personal
# data (GDPR art. 4(2)): a small cell, a group of one, or two results that
# differ by one row can single a person out. That is why any personal data
# are handled here as strictly as sensitive data, where the exchange policy
# handles personal data marked open as restricted data: the safeguards of
# research (GDPR art. 89) and the disclosure limits are what make their
# analysis acceptable.
#
# Reference data: data.data.purposes (policies/data/purposes.json) and
# data.data.jurisdictions (policies/data/jurisdictions.json), imported below
# as purposes and jurisdictions.
#
# How the rules are written: as in exchange.rego, a rule that concerns only
# some requests starts with a test on the request itself, a refusal starts
# with the line a proper request fails, and a reason sentence is only
# written when its rule applies.
package xborder.analysis

import data.data.jurisdictions
import data.data.purposes

# ---------------------------------------------------------------------------
# The decision, assembled from the rules below.
# ---------------------------------------------------------------------------

default allow := false

# Allowed when no rule refuses and at least one rule grants.
allow if {
	count(deny) == 0
	count(grants) > 0
}

# When allowed, the grants and the stricter limits that apply explain the
# decision, sorted by rule name. When refused, the refusals explain it (see
# fired below). The limits are given either way, so that a legal team sees
# what would apply; the node reads them only from an allowed decision.
decision := {
	"allow": true,
	"reasons": [r | some [_, r] in granted],
	"rules": [n | some [n, _] in granted],
	"obligations": sort(obligation_set),
	"max_validity_s": 0,
	"limits": limits,
} if {
	allow
	granted := sort([[g.rule, g.reason] | some g in explained])
} else := {
	"allow": false,
	"reasons": [r | some [_, r] in fired],
	"rules": [n | some [n, _] in fired],
	"obligations": [],
	"max_validity_s": 0,
	"limits": limits,
}

# What explains an allowed analysis.
explained := grants | stricter

# The rules that explain a refusal, sorted by rule name: the refusals, or,
# when no rule applies at all, no_rule_allows.
fired := sort([[d.rule, d.reason] | some d in deny]) if {
	count(deny) > 0
} else := [["no_rule_allows", "No rule of this node's policy allows this analysis, so it is refused."]]

# ---------------------------------------------------------------------------
# Disclosure limits.
#
# The node holds every result it releases to these limits; a result that
# would break one is not released (the researcher is told which limit). They
# protect the persons in the data against being singled out from aggregates:
#
#   min_cell_count     every count, table cell, histogram bin and group the
#                      result shows stands for at least this many rows; a
#                      quantile is the mean of this many neighbouring values.
#                      Against: a cell of 1 or 2 tells who has the rare
#                      value. 5 here; DataSHIELD's default (nfilter.tab) is
#                      3, many statistical offices use 10.
#   min_subset_rows    an analysis reads at least this many rows after its
#                      filter, and its row set differs from every row set
#                      already released to the same requester on this dataset
#                      by at least this many rows. Against: a filter that
#                      keeps one person, and the "n and n-1" differencing
#                      attack (two means whose row sets differ by one row
#                      give that row's value). 5 here; DataSHIELD's
#                      nfilter.subset is 3.
#   max_params_share   a glm has at most this share of parameters per row
#                      (parameters / rows). Against: a model with nearly as
#                      many parameters as rows, whose coefficients give the
#                      rows back. 0.33 here, DataSHIELD's nfilter.glm.
#   max_factor_levels  a categorical variable has at most this many levels.
#                      Against: a "category" that is an identifier in
#                      disguise, one level per person. 40 here, DataSHIELD's
#                      nfilter.levels.max.
#   max_iterations     a glm's fit stops after this many iterations.
#                      Against: an analysis that keeps the owner's node busy.
#                      25 here, the default of R's glm (glm.control maxit).
#
# The node itself, whatever the limits, never releases a single person's
# value: minimum and maximum are never released, and a quantile is the mean
# of min_cell_count neighbouring values, never one row's value.
# ---------------------------------------------------------------------------

# The limits for every dataset.
default_limits := {
	"min_cell_count": 5,
	"min_subset_rows": 5,
	"max_params_share": 0.33,
	"max_factor_levels": 40,
	"max_iterations": 25,
}

# Stricter limits for some data, each with its own rule and sentence; the
# sentence is shown with an allowed analysis. A rule here can only make the
# limits stricter: where several set the same limit, the strictest value
# wins, and a minimum never falls below the default (nor a maximum rises
# above it). To add one, copy the rule below with another condition, limit
# and value, and add a test.

# Personal health data (GDPR art. 9): at least 10 persons behind every
# figure, as many statistical offices require of health statistics; the
# rarer a condition, the easier a small cell names the patient.
stricter contains {
	"rule": "health_data_cell_count",
	"reason": sprintf("%s holds personal health data (GDPR art. 9), so every figure of the result stands for at least 10 persons.", [dataset_ref]),
	"limit": "min_cell_count",
	"value": 10,
} if {
	personal_health
}

# A minimum is the largest of the default and the stricter values; a maximum
# the smallest.
at_least(limit) := max({default_limits[limit]} | {s.value | some s in stricter; s.limit == limit})

at_most(limit) := min({default_limits[limit]} | {s.value | some s in stricter; s.limit == limit})

limits := {
	"min_cell_count": at_least("min_cell_count"),
	"min_subset_rows": at_least("min_subset_rows"),
	"max_params_share": at_most("max_params_share"),
	"max_factor_levels": at_most("max_factor_levels"),
	"max_iterations": at_most("max_iterations"),
}

# ---------------------------------------------------------------------------
# Facts about the request. A field that is missing or not text counts as "".
# ---------------------------------------------------------------------------

owner := input.dataset.owner if {
	is_string(input.dataset.owner)
} else := ""

dataset_id := input.dataset.id if {
	is_string(input.dataset.id)
} else := ""

dataset_ref := concat("/", [owner, dataset_id])

dataset_kind := input.dataset.kind if {
	is_string(input.dataset.kind)
} else := ""

classification := input.dataset.classification if {
	is_string(input.dataset.classification)
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

analysis_kind := input.analysis.kind if {
	is_string(input.analysis.kind)
} else := ""

glm_family := input.analysis.family if {
	is_string(input.analysis.family)
} else := ""

has_project if is_object(input.project)

project_id := input.project.id if {
	is_string(input.project.id)
} else := ""

project_status := input.project.status if {
	is_string(input.project.status)
} else := ""

ethics_ref := trim_space(input.project.ethics_ref) if {
	is_string(input.project.ethics_ref)
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

# The analyses the node knows how to run and hold to the limits.
analysis_kinds := {"summary", "table", "histogram", "correlation", "glm", "evaluate", "module"}

# The analyses that run a program on the rows, with the kind of module the
# registry must hold it as: an evaluation runs the model's predictor, a
# module run an analysis program.
program_kinds := {"evaluate": "predictor", "module": "analysis"}

# The request runs a program on the rows.
runs_program if program_kinds[analysis_kind]

has_module if is_object(input.module)

module_name := input.module.name if {
	is_string(input.module.name)
} else := ""

module_kind := input.module.kind if {
	is_string(input.module.kind)
} else := ""

model_ref := concat("/", [input.model.owner, input.model.id]) if {
	is_string(input.model.owner)
	is_string(input.model.id)
} else := ""

# The glm families the node fits: linear regression (gaussian), logistic
# regression (binomial) and count regression (poisson).
glm_families := {"gaussian", "binomial", "poisson"}

# ---------------------------------------------------------------------------
# How the dataset is handled.
# ---------------------------------------------------------------------------

# Personal data about health are a special category of personal data
# (GDPR art. 9(1)), whatever classification the owner gave them.
personal_health if {
	input.dataset.personal_data == true
	input.dataset.theme == "health"
}

# Sensitive and confidential data, and any personal data, get the strictest
# handling.
special if input.dataset.classification in {"sensitive", "confidential"}

special if input.dataset.personal_data == true

handling := "special" if {
	special
} else := "restricted" if {
	input.dataset.classification == "restricted"
} else := "open" if {
	input.dataset.classification == "open"
}

# ---------------------------------------------------------------------------
# Conditions, stated positively; each refusal below is the negation of one.
# ---------------------------------------------------------------------------

purpose_stated if trim_space(purpose) != ""

purpose_known if purposes[purpose]

purpose_research_like if purposes[purpose].research == true

# A joint project is needed for specially handled data, and whenever the
# owner marked the dataset as project-only.
project_needed if special

project_needed if input.dataset.requires_project == true

# A program runs only within the project it was approved in: that is where
# the owner's legal team reviewed it, and where the owner attached the
# dataset. A model's predictor can leak labels through the exact sums of
# its scores (see analysis/evaluation), so its review is the gate.
project_needed if runs_program

project_lists_dataset if dataset_ref in input.project.datasets

project_lists_requester if requester_node in input.project.partners

# The project is active and lists both the dataset and the requester.
project_ok if {
	input.project.status == "active"
	project_lists_dataset
	project_lists_requester
}

# Where the GDPR applies: the EU and the EEA.
requester_in_eu_eea if jurisdictions.eu[requester_country]

requester_in_eu_eea if jurisdictions.eea[requester_country]

# Where the EU recognises the protection as adequate (GDPR art. 45).
requester_adequate if jurisdictions.adequacy[requester_country]

# The owner's own researchers, and the partners the owner named.
confidential_partner if requester_node in input.dataset.partners

own_node if {
	requester_node != ""
	requester_node == owner
}

# ---------------------------------------------------------------------------
# Refusals. Each names its rule and says, in a sentence, what is missing.
# ---------------------------------------------------------------------------

# Only members of the federation, each known by its node, run analyses.
deny contains {
	"rule": "requester_unknown",
	"reason": "The request names no requesting node; only members of the federation run analyses.",
} if {
	requester_node == ""
}

# Only datasets are analysed: a model has no rows to compute on.
deny contains {
	"rule": "not_a_dataset",
	"reason": sprintf("%s is of kind %q; only datasets can be analysed.", [dataset_ref, dataset_kind]),
} if {
	not input.dataset.kind == "dataset"
}

# Every dataset must carry one of the four classifications; without one we
# cannot tell which protection applies, so we refuse.
deny contains {
	"rule": "unknown_classification",
	"reason": sprintf("%s has the classification %q, which is none of open, restricted, sensitive or confidential; the owner must classify it before it can be analysed.", [dataset_ref, classification]),
} if {
	not input.dataset.classification == "open"
	not input.dataset.classification == "restricted"
	not input.dataset.classification == "sensitive"
	not input.dataset.classification == "confidential"
}

# Only the analyses the node knows how to hold to the disclosure limits.
deny contains {
	"rule": "unknown_analysis",
	"reason": sprintf("%q is not an analysis this node runs; it runs %s.", [analysis_kind, concat(", ", sort(analysis_kinds))]),
} if {
	not analysis_kind in analysis_kinds
}

# A glm only of a family the node fits.
deny contains {
	"rule": "unknown_glm_family",
	"reason": sprintf("%q is not a glm family this node fits; it fits %s.", [glm_family, concat(", ", sort(glm_families))]),
} if {
	input.analysis.kind == "glm"
	not glm_family in glm_families
}

# Purpose limitation (GDPR art. 5(1)(b)): every analysis states its purpose.
deny contains {
	"rule": "purpose_missing",
	"reason": "The request states no purpose; say what the analysis is for.",
} if {
	not purpose_stated
}

# Every analysis is for a purpose from the federation's vocabulary
# (policies/data/purposes.json).
deny contains {
	"rule": "unknown_purpose",
	"reason": sprintf("The purpose %q is not in the federation's purpose vocabulary (%s); %s is analysed only for one of those.", [purpose, vocabulary, dataset_ref]),
} if {
	not purpose_known
	purpose_stated
}

# Sensitive data and personal data are analysed only for scientific
# research, statistics or public health (GDPR art. 9(2)(i) and (j) for
# special categories, with the safeguards of art. 89).
deny contains {
	"rule": "research_purpose_required",
	"reason": sprintf("%s is sensitive, confidential or personal data, which are analysed only for research, statistics or public health (GDPR art. 89); the purpose %q is not one of those.", [dataset_ref, purpose]),
} if {
	not purpose_research_like
	purpose_known
	special
}

# The joint-project requirement: named after why it applies.
project_rule := "sensitive_requires_project" if {
	special
} else := "program_requires_project" if {
	runs_program
} else := "owner_requires_project"

project_requirement := sprintf("%s is sensitive, confidential or personal data and is analysed only within an active joint project of the federation registry", [dataset_ref]) if {
	special
} else := sprintf("A program runs on %s only within the active joint project of the federation registry in which it was approved", [dataset_ref]) if {
	runs_program
} else := sprintf("The owner analyses %s only within an active joint project of the federation registry", [dataset_ref])

# The project refusals below are looked at only when a project is needed and
# the one named is not in order; a request within a proper project passes
# them all here.
deny contains refusal if {
	not project_ok
	project_needed
	some refusal in project_refusal
}

# Specially handled data, and datasets the owner marked project-only, are
# analysed only within a registered joint project.
project_refusal contains {
	"rule": project_rule,
	"reason": sprintf("%s; the request names no project, or one the registry does not know.", [project_requirement]),
} if {
	not has_project
}

# The project must be running.
project_refusal contains {
	"rule": "project_not_active",
	"reason": sprintf("Project %s is %s, not active; %s is analysed only within an active project.", [project_id, project_status, dataset_ref]),
} if {
	not input.project.status == "active"
	has_project
}

# The project must list the dataset: the owner attached it to the project.
project_refusal contains {
	"rule": "dataset_not_in_project",
	"reason": sprintf("Project %s does not list %s; its owner must attach it to the project first.", [project_id, dataset_ref]),
} if {
	has_project
	not project_lists_dataset
}

# The requester must be a partner of the project.
project_refusal contains {
	"rule": "requester_not_in_project",
	"reason": sprintf("Your node %s is not a partner of project %s; only the project's partners analyse its data.", [requester_node, project_id]),
} if {
	has_project
	not project_lists_requester
}

# A program runs only if the registry holds it for the project: proposed
# there, with the approvals of the owners whose data it visits.
deny contains {
	"rule": "module_unknown",
	"reason": sprintf("The program of this %s is not one the registry holds for the project; it must be proposed to the project and approved by %s first.", [analysis_kind, owner]),
} if {
	not has_module
	runs_program
}

# The owner's legal team reviews a program before it runs on the owner's
# data: the owner's member must be among its approvals.
deny contains {
	"rule": "module_not_approved",
	"reason": sprintf("%s has not approved the program %s for project %s; its legal team reviews a program before it runs on its data.", [owner, module_name, project_id]),
} if {
	not input.module.approved_by_self == true
	runs_program
	has_module
}

# A withdrawn program runs no more.
deny contains {
	"rule": "module_withdrawn",
	"reason": sprintf("The program %s was withdrawn from project %s.", [module_name, project_id]),
} if {
	input.module.withdrawn == true
	runs_program
}

# An evaluation runs a predictor, a module run an analysis program: a
# program approved as one is not run as the other.
deny contains {
	"rule": "module_wrong_kind",
	"reason": sprintf("The program %s is registered as a %q module; a %s runs a %q module.", [module_name, module_kind, analysis_kind, program_kinds[analysis_kind]]),
} if {
	not module_kind == program_kinds[analysis_kind]
	runs_program
	has_module
}

# The program was approved within the request's project, not another.
deny contains {
	"rule": "module_other_project",
	"reason": sprintf("The program %s was approved in project %v, not in the request's project %s.", [module_name, input.module.project, project_id]),
} if {
	not input.module.project == project_id
	runs_program
	has_module
}

# An evaluation is of a model entry of this node's catalogue.
deny contains {
	"rule": "model_unknown",
	"reason": "The evaluation names no model entry this node's catalogue lists.",
} if {
	not input.model.kind == "model"
	analysis_kind == "evaluate"
}

# Research on sensitive and personal data needs an ethics approval (GDPR
# art. 9(2)(j) and art. 89 safeguards; national research law, e.g. the
# French CPP).
deny contains {
	"rule": "ethics_approval_missing",
	"reason": sprintf("Project %s has no ethics approval reference; sensitive and personal data are analysed only with an ethics approval.", [project_id]),
} if {
	ethics_ref == ""
	has_project
	special
}

# Results drawn from personal data go out of the EU/EEA only where an
# adequacy decision applies (GDPR art. 44 and 45); the federation applies
# the same rule to sensitive and confidential data.
deny contains {
	"rule": "transfer_not_adequate",
	"reason": sprintf("Your node is in %s, which is neither in the EU/EEA nor covered by an EU adequacy decision (GDPR art. 45); results drawn from %s may not be sent there.", [country_label(requester_country), dataset_ref]),
} if {
	not requester_in_eu_eea
	not requester_adequate
	special
}

# Confidential data are analysed only for the partners the owner named (and
# for the owner's own researchers).
deny contains {
	"rule": "confidential_not_partner",
	"reason": sprintf("%s is confidential and analysed only for the partners its owner named; your node %s is not one of them.", [dataset_ref, requester_node]),
} if {
	input.dataset.classification == "confidential"
	not confidential_partner
	not own_node
}

# ---------------------------------------------------------------------------
# Grants: why the analysis is allowed, sentence by sentence.
# ---------------------------------------------------------------------------

# Open data without personal data: any member, for a purpose of the
# vocabulary.
grants contains {
	"rule": "open_data",
	"reason": sprintf("%s is open data without personal data; any member may analyse it for %q, a purpose in the federation's vocabulary.", [dataset_ref, purpose]),
} if {
	input.dataset.classification == "open"
	handling == "open"
	purpose_known
}

# Restricted data: for a purpose of the vocabulary.
grants contains {
	"rule": "restricted_data",
	"reason": sprintf("%s is restricted data, analysed for %q, a purpose in the federation's vocabulary.", [dataset_ref, purpose]),
} if {
	input.dataset.classification == "restricted"
	handling == "restricted"
	purpose_known
}

# Sensitive and confidential data within an approved project.
grants contains {
	"rule": "sensitive_data",
	"reason": sprintf("%s is %s data, analysed for %q, a research-like purpose, within the active joint project %s, which has the ethics approval %s.", [dataset_ref, classification, purpose, project_id, ethics_ref]),
} if {
	input.dataset.classification in {"sensitive", "confidential"}
	purpose_research_like
	project_ok
	ethics_ref != ""
}

# Personal data of any classification within an approved project.
grants contains {
	"rule": "personal_data_research",
	"reason": sprintf("%s holds personal data; it is analysed for %q, a research-like purpose (GDPR art. 89), within the active joint project %s, which has the ethics approval %s.", [dataset_ref, purpose, project_id, ethics_ref]),
} if {
	input.dataset.personal_data == true
	purpose_research_like
	project_ok
	ethics_ref != ""
}

# Data the owner marked project-only, within its project.
grants contains {
	"rule": "within_project",
	"reason": sprintf("The analysis is made within the active joint project %s, which lists %s and your node %s as a partner.", [project_id, dataset_ref, requester_node]),
} if {
	input.dataset.requires_project == true
	not special
	project_ok
}

# The requester is where the GDPR applies.
grants contains {
	"rule": "transfer_eu_eea",
	"reason": sprintf("Your node is in %s, where the GDPR applies (EU/EEA).", [country_label(requester_country)]),
} if {
	special
	requester_in_eu_eea
}

# The requester is in a country with an EU adequacy decision (GDPR art. 45).
grants contains {
	"rule": "transfer_adequate",
	"reason": sprintf("Your node is in %s, which the EU recognises as giving adequate protection to personal data (GDPR art. 45, %s).", [country_label(requester_country), jurisdictions.adequacy[requester_country].decision]),
} if {
	special
	requester_adequate
}

# A program approved by this node's member for the request's project.
grants contains {
	"rule": "module_approved",
	"reason": sprintf("The program %s (%s module, %s) was approved by %s for project %s.", [module_name, module_kind, input.module.sha256, owner, project_id]),
} if {
	input.module.approved_by_self == true
	runs_program
}

# An evaluation's model, as this node's catalogue lists it.
grants contains {
	"rule": "model_evaluated",
	"reason": sprintf("The model %s is evaluated against %s's rows; only the metrics leave, never a score.", [model_ref, dataset_ref]),
} if {
	input.model.kind == "model"
	analysis_kind == "evaluate"
}

# Confidential data: the requester is a partner the owner named.
grants contains {
	"rule": "confidential_partner",
	"reason": sprintf("%s is confidential and its owner named your node %s among the partners who may analyse it.", [dataset_ref, requester_node]),
} if {
	input.dataset.classification == "confidential"
	confidential_partner
}

# Confidential data: the owner's own researchers.
grants contains {
	"rule": "confidential_own_node",
	"reason": sprintf("%s is confidential and your node %s owns it.", [dataset_ref, requester_node]),
} if {
	input.dataset.classification == "confidential"
	own_node
}

# ---------------------------------------------------------------------------
# Obligations attached to an allowed analysis.
# ---------------------------------------------------------------------------

# Results drawn from sensitive and personal data: no re-identification, and
# no linking with other sources to single a person out (GDPR art. 89(1)).
obligation_set contains o if {
	special
	some o in [
		"Do not attempt to re-identify any person from the results.",
		"Do not combine the results with other data to single out a person.",
	]
}

# Adequacy decisions limited to some recipients (e.g. the EU-US Data Privacy
# Framework covers only certified organisations).
obligation_set contains jurisdictions.adequacy[requester_country].condition if {
	special
	requester_adequate
}
