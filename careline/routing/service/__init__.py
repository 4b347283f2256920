"""Routing use cases: ``setup`` (queues, agents, skills, dispositions), ``agents`` (chosen states, sign-off),
``states`` (recording and settling a state), ``offers`` (accept, reject, time-outs), ``interactions`` (a contact's
life), ``engine`` (the ACD pass), ``board`` (wallboard figures), ``desktop`` (my work, the screen pop),
``callers`` (naming the caller on a contact), ``history`` (timeline lines) and ``views`` (shapes)."""
