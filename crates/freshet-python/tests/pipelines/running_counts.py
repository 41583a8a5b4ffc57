"""A checkpointed pipeline for the recovery tests: running word counts over the files of a
directory, one file per batch, each batch's counts written to ``OUT/<batch ms>.json``
(written to a temporary name, then renamed, so a file is whole or absent).

Usage: python running_counts.py INPUT_DIR CHECKPOINT_DIR OUT_DIR
"""

import json
import os
import sys

import freshet


def main():
    input_dir, checkpoint_dir, out_dir = sys.argv[1:4]

    def setup():
        ssc = freshet.StreamingContext(0.05, workers=2, checkpoint_interval=2)
        counts = (
            ssc.text_file_stream(input_dir, include_existing=True, max_files_per_batch=1)
            .flat_map(lambda line: line.split())
            .map(lambda w: (w, 1))
            .update_state_by_key(lambda new, last: (last or 0) + sum(new))
        )

        def write(time, records):
            name = os.path.join(out_dir, f"{int(time.timestamp() * 1000)}.json")
            with open(name + ".tmp", "w") as f:
                json.dump(dict(records), f, sort_keys=True)
            os.replace(name + ".tmp", name)

        counts.foreach_batch(write)
        return ssc

    ssc = freshet.StreamingContext.get_or_create(checkpoint_dir, setup)
    ssc.run_available_now()


if __name__ == "__main__":
    main()
