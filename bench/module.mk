# bench/: `make bench` runs bench/run.sh over BENCH_WORKLOADS; each writes
# $(BUILD)/bench/<workload>.csv and prints its ratio table. Not part of
# `make test`. Knobs (environment): BENCH_RUNS, BENCH_WARMUP, BENCH_TIMEOUT.
# disk (bench/disk.sh) skips itself while btvm takes no -hda.
BENCH_WORKLOADS := compute nano linux translate disk

bench: all linux linux-disk
	@BUILD=$(BUILD) BENCH_OUT=$(BUILD)/bench bash bench/run.sh $(BENCH_WORKLOADS)
	@BENCH_OUT=$(BUILD)/bench BTVM=$(BUILD)/btvm bash bench/report.sh

# fwboot (bench/fwboot.sh): power-on to SeaBIOS's boot line, to GRUB and to
# Linux's /init from build/bootimg/linux.iso. `make fwboot-bench` alone.
BENCH_WORKLOADS += fwboot
bench: bootimg
.PHONY: fwboot-bench
fwboot-bench: all bootimg
	@BUILD=$(BUILD) BENCH_OUT=$(BUILD)/bench bash bench/run.sh fwboot
# The persistent image's virtio-blk, IDE and virtio-net rows (bench/virtio.sh;
# virtio.csv, and the same rows in linux.csv): `make bench-virtio` alone.
BENCH_WORKLOADS += virtio
bench: diskimg
.PHONY: bench-virtio
bench-virtio: all diskimg
	@BUILD=$(BUILD) BENCH_OUT=$(BUILD)/bench bash bench/run.sh virtio

# The README's figures table from build/bench/*.csv (bench/readme_table.sh):
# `make bench-readme` rewrites it; `bench/readme_table.sh --check` compares.
.PHONY: bench-readme
bench-readme:
	@BENCH_OUT=$(BUILD)/bench bash bench/readme_table.sh --write
