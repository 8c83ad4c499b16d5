#!/bin/bash
# Train on every GPU of this machine (or on 2 CPU processes when it has none), one
# process per device. Run from this folder: bash train_torchrun.sh
set -euo pipefail

if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
    processes=$(nvidia-smi -L | wc -l)
else
    processes=2
fi

torchrun --standalone --nproc_per_node "$processes" \
    -m atomtrain train options.yaml
