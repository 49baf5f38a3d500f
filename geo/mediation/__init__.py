"""Dispute mediation (矛盾纠纷调解): squads, disputes, sessions, outcomes and rates."""
