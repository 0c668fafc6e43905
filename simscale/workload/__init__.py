"""Where requests come from and what they carry, before the model sees them.

Rooms: `arrivals` (open-loop arrival processes: lazy chunks of times), `traces` (trace
readers and replay), `distributions` (the spec's distributions) and `samplers` (drawing
from them a chunk at a time), `kinds` (request kinds and their cost profiles), `chunks` (the
arrival chunks a run consumes), `users` (closed-loop users), `population` (the key
population: Zipf users, their sessions, prompts) and `files` (reading the files a workload
names). Nothing here imports simscale.model: data flows from the workload into the model.

This file names no module itself, so importing one room does not import the others.
"""
