"""simscale checks itself: its engine against queueing theory (queueing, `simscale validate`)
and its speed against a textbook SimPy model (speed, `simscale bench`; sweep_speed, `simscale
bench --sweep`)."""
