#!/usr/bin/env bash
# Every GPU measurement of docs/scaling.md in one call, for a machine lent for a few minutes.
#
#   bash bench/gpu_check.sh [OUT]        (OUT defaults to $OUT, else bench/results/gpu)
#
# Needs a CUDA machine with torch and torchvision importable by `python` (or .venv/bin/python);
# installs nothing. Writes JSON per measurement into OUT and a log; about 3-4 minutes on
# an H100/H200. Each step has its own timeout, so one slow step cannot eat the others.
set -u
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
$py -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$log" 2>&1

# 1. training and sampling throughput beside the anchor loop, default options (bf16 autocast,
#    channels_last, fused Adam on CUDA), then fp32, then torch.compile.
step 100 throughput-default $py bench/throughput.py --device cuda --batches 64,256,1024 --steps 200 --out "$out" --tag default
step 60 throughput-fp32 $py bench/throughput.py --device cuda --batches 256 --steps 200 --amp off --out "$out" --tag fp32
step 150 throughput-compile $py bench/throughput.py --device cuda --batches 256 --steps 200 --amp off --compile --out "$out" --tag compile

# 2. torchrun with nccl on every GPU of the machine (one here): training, and sharded export.
gpus=$($py -c "import torch; print(torch.cuda.device_count())")
step 120 torchrun-train $py -m torch.distributed.run --standalone --nproc_per_node="$gpus" -m synthaug train cgan \
    --data digits --out "$out/ddp-cgan" --epochs 3 --batch-size 256 --device cuda --sample-every 0 --no-progress
step 60 torchrun-sample $py -m torch.distributed.run --standalone --nproc_per_node="$gpus" -m synthaug sample \
    "$out/ddp-cgan" --out "$out/shards" --num-samples 100000 --device cuda --no-progress
cp "$out/ddp-cgan/metrics.jsonl" "$out/ddp-cgan-metrics.jsonl" 2>/dev/null
cp "$out/shards/manifest.json" "$out/shards-manifest.json" 2>/dev/null
rm -rf "$out/ddp-cgan" "$out/shards"
echo "done; results in $out" | tee -a "$log"
