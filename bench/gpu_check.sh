#!/usr/bin/env bash
# Every GPU measurement of docs/scaling.md in one call, for a machine lent for a few minutes.
#
#   bash bench/gpu_check.sh [OUT]        (OUT defaults to $OUT, else bench/results/gpu)
#
# Needs a CUDA machine with torch and torchvision importable by `python` (or .venv/bin/python).
# Installs nothing heavy: if synthaug's small dependencies (safetensors, tqdm, scikit-learn,
# albumentations, ...) are missing there, carry their wheels in bench/wheels/ (made here with
# `pip download -d bench/wheels safetensors tqdm ...`) and they are installed offline first.
# Writes JSON per measurement into OUT and a log; about 3-4 minutes on an H100/H200. Each
# step has its own timeout, so one slow step cannot eat the others.
# DEVICE=cpu STEPS=3 runs the same steps on the CPU in miniature (to check the script itself).
set -u
device="${DEVICE:-cuda}"
steps="${STEPS:-200}"
out="${1:-${OUT:-bench/results/gpu}}"
mkdir -p "$out"
py=python
[ -x .venv/bin/python ] && py=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log="$out/gpu_check.log"
step() {  # step SECONDS NAME COMMAND...: run with a timeout, log it, keep going on failure
    local limit=$1 name=$2; shift 2
    echo "== $name: $*" | tee -a "$log"
    local t0=$SECONDS
    timeout "$limit" "$@" >>"$log" 2>&1
    echo "== $name: exit $? after $((SECONDS - t0)) s" | tee -a "$log"
}
if [ -d bench/wheels ]; then
    $py -m pip install -q --no-index --find-links bench/wheels bench/wheels/*.whl >>"$log" 2>&1
fi
$py -c "import synthaug, torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')" | tee -a "$log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$log" 2>&1

# 1. training and sampling throughput beside the anchor loop, default options (bf16 autocast,
#    channels_last, fused Adam on CUDA), then fp32, then torch.compile.
# Timeouts add up to 300 s; the steps normally take far less.
step 80 throughput-default $py bench/throughput.py --device "$device" --batches 64,256,1024 --steps "$steps" --out "$out" --tag default
step 40 throughput-fp32 $py bench/throughput.py --device "$device" --batches 256 --steps "$steps" --amp off --out "$out" --tag fp32
step 100 throughput-compile $py bench/throughput.py --device "$device" --batches 256 --steps "$steps" --amp off --compile reduce-overhead --out "$out" --tag compile

# 2. torchrun with nccl on every GPU of the machine (one here): training, and sharded export.
gpus=$($py -c "import torch; print(max(1, torch.cuda.device_count()))")
step 50 torchrun-train $py -m torch.distributed.run --standalone --nproc_per_node="$gpus" -m synthaug train cgan \
    --data digits --out "$out/ddp-cgan" --epochs 3 --batch-size 256 --device "$device" --sample-every 0 --no-progress
# One process (one GPU) is not sharded automatically: name its single shard.
shard_args=""
[ "$gpus" = 1 ] && shard_args="--shards 1 --shard-index 0"
step 30 torchrun-sample $py -m torch.distributed.run --standalone --nproc_per_node="$gpus" -m synthaug sample \
    "$out/ddp-cgan" --out "$out/shards" --num-samples 100000 --device "$device" --no-progress $shard_args
cp "$out/ddp-cgan/metrics.jsonl" "$out/ddp-cgan-metrics.jsonl" 2>/dev/null
cp "$out/shards/manifest.json" "$out/shards-manifest.json" 2>/dev/null
rm -rf "$out/ddp-cgan" "$out/shards"
echo "done; results in $out" | tee -a "$log"
