"""What a run leaves behind: the run directory and every file in it.

Rooms: `columns` (the one declaration of every column of requests, metrics and events
.parquet: name, Arrow type, unit, meaning), `recorder` (requests.parquet, recorded as the run
goes), `run_files` (the files of a run directory: names, metadata, metrics and
events.parquet, summary.json last), `sink` (Parquet written in row groups under a temporary
name), `staging` (a run directory replaced whole), `rundirs` (where runs go, `latest`),
`paths` (output paths checked before any work; files replaced atomically; strict JSON) and
`digest` (percentiles in bounded memory, exact ones read from a file by `selection`). The
path helpers are named here; the rest is imported from its module (pyarrow stays out of a
plain `import simscale.outputs`).
"""

from simscale.outputs.paths import (
    check_file_target,
    ensure_dir,
    finite,
    json_text,
    non_finite_keys,
    write_json,
    write_text,
)

__all__ = ["check_file_target", "ensure_dir", "finite", "json_text", "non_finite_keys",
           "write_json", "write_text"]
