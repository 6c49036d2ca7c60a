// Measurement for bench/node/loadgen.js: CPU time from /proc, server RSS,
// and the measured window of a throughput scenario (latencies, counts, errors).
'use strict';

const fs = require('fs');
const os = require('os');
const { performance } = require('perf_hooks');

const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function round(x, digits) {
    const f = 10 ** digits;
    return Math.round(x * f) / f;
}

/** [user + system, system] CPU seconds of a process (all its threads), from /proc/PID/stat. */
function cpuSeconds(pid, ticks) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const system = Number(fields[12]); // stime: in the kernel (system calls, the TCP stack)
    return [(Number(fields[11]) + system) / ticks, system / ticks]; // utime + stime, stime
}

/** [busy, all] jiffies of every CPU together, from /proc/stat (idle and iowait are not busy). */
function machineBusy() {
    const line = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    return [total - values[3] - values[4], total];
}

/** A process's resident set size (VmRSS) in KiB, from /proc/PID/status. */
function rssKb(pid) {
    const match = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    if (!match) throw new Error(`no VmRSS line for ${pid}`);
    return Number(match[1]);
}

/**
 * CPU cores used between start() and stop(), by name: "client" (this
 * process, the generator), "server" (--server-pid), "server_system" (the
 * server's share spent in the kernel) and "machine" (all CPUs).
 */
class CpuMeter {
    constructor(o) {
        this.pids = { client: process.pid, ...(o.serverPid ? { server: o.serverPid } : {}) };
        this.ticks = o.clockTicks;
        this.cores = {};
    }

    read() {
        const out = {};
        for (const [name, pid] of Object.entries(this.pids)) {
            try {
                const [all, system] = cpuSeconds(pid, this.ticks);
                out[name] = all;
                if (name === 'server') out.server_system = system;
            } catch (err) {
                // the process is gone: its figure is left out
            }
        }
        return out;
    }

    start() {
        this.t0 = now();
        this.cpu0 = this.read();
        this.machine0 = machineBusy();
    }

    stop() {
        const elapsed = (now() - this.t0) / 1000;
        const cpu1 = this.read();
        for (const name of Object.keys(cpu1)) {
            if (name in this.cpu0) this.cores[name] = round((cpu1[name] - this.cpu0[name]) / elapsed, 3);
        }
        const [busy1, total1] = machineBusy();
        const [busy0, total0] = this.machine0;
        this.cores.machine = round(((busy1 - busy0) / Math.max(1, total1 - total0)) * os.cpus().length, 3);
        return this.cores;
    }
}

/**
 * The measured window of a throughput scenario: it starts `warmup` s from
 * now and lasts `duration` s. Operations completed inside it count
 * (`add(sent, done)`), with their latencies; CPU is metered across it.
 */
class Window {
    constructor(o) {
        this.start = now() + o.warmup * 1000;
        this.end = this.start + o.duration * 1000;
        this.duration = o.duration;
        this.latencies = [];
        this.counts = {};
        this.errors = [];
        this.cpu = new CpuMeter(o);
        this.maxStall = 0;
    }

    add(sent, done) {
        if (done >= this.start && done <= this.end) this.latencies.push(done - sent);
    }

    count(name, n = 1) {
        this.counts[name] = (this.counts[name] || 0) + n;
    }

    error(err) {
        this.errors.push(String(err && err.message ? err.message : err).slice(0, 200));
    }

    /** Meter CPU across the window, and how late this event loop wakes a 50 ms timer. */
    async measure() {
        await sleep(Math.max(0, this.start - now()));
        this.cpu.start();
        let last = now();
        const tick = setInterval(() => {
            const t = now();
            this.maxStall = Math.max(this.maxStall, t - last - 50);
            last = t;
        }, 50);
        await sleep(Math.max(0, this.end - now()));
        this.cpu.stop();
        clearInterval(tick);
    }

    percentile(p) {
        if (!this.latencies.length) return null;
        const sorted = Float64Array.from(this.latencies).sort();
        return round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))], 3);
    }

    summary() {
        const rate = this.latencies.length / this.duration;
        const cores = this.cpu.cores;
        const perOp = (name) => (name in cores && rate ? round((1e6 * cores[name]) / rate, 1) : null);
        return {
            rate: round(rate, 1),
            p50_ms: this.percentile(50),
            p99_ms: this.percentile(99),
            samples: this.latencies.length,
            cpu_cores: cores,
            server_us_per_op: perOp('server'),
            server_system_us_per_op: perOp('server_system'),
            client_us_per_op: perOp('client'),
            generator_max_stall_s: round(Math.max(0, this.maxStall) / 1000, 3),
            counts: this.counts,
            errors: this.errors.slice(0, 5),
            error_count: this.errors.length,
        };
    }
}

module.exports = { CpuMeter, Window, now, rssKb, round, sleep };
