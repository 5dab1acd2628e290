"""bench/results.json: one file, one section per benchmark script."""

import json
import os


def merge(path, sections):
    """Replace `sections` (name -> figures) in the results file, keeping the other scripts'."""
    everything = {}
    if os.path.exists(path):
        with open(path) as f:
            everything = json.load(f)
    everything.update(sections)
    with open(path, "w") as out:
        json.dump(everything, out, indent=2)
        out.write("\n")
