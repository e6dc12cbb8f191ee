package xborder.registry

decision := {"allow": input.command.op == "project.propose", "reasons": [], "rules": [], "obligations": [], "max_validity_s": 0}
