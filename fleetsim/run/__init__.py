"""Running a scenario end to end: CSMS, engine, results folder."""
