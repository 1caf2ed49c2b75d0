"""The run directory: where it goes and what is inside it (:mod:`.layout`, every file name
spelt once), which one a command uses, its claiming and its clean-up on failure
(:mod:`.folder`), its config snapshots (:mod:`.snapshot`) and what it records of the commands
that made it (:mod:`.record`). ``layout``, ``folder`` and ``record`` are light (no torch)."""
