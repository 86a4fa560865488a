/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * process_monitor.h: the record layout shared by process_monitor.bpf.c and coretool.
 *
 * The Rust side (src/probe/event.rs) decodes `struct pm_event` and `struct pm_stats` by byte
 * offset; a test compares those offsets with the BTF of the built object, so a change here that
 * is not mirrored there fails `cargo test`.
 *
 * Only fixed-size types, every member naturally aligned, no implicit padding.
 */
#ifndef PROCESS_MONITOR_H
#define PROCESS_MONITOR_H

/* Event types (pm_event.type). */
#define PM_EXEC 1    /* sched/sched_process_exec: a process image was replaced */
#define PM_EXIT 2    /* sched/sched_process_exit of the last thread: the process is gone */
#define PM_FORK 3    /* sched/sched_process_fork that created a process (not a thread) */
#define PM_DO_EXIT 4 /* kprobe do_exit() of a thread group leader; exit_status = its argument */

/* pm_event.flags: which kernel layout the CO-RE reads found, so output can show it. */
#define PM_F_STATE_NEW 0x1    /* task_struct has `__state` (5.14+), else `state` was read */
#define PM_F_GROUP_DEAD 0x2   /* sched_process_exit record has `group_dead`, else signal->live was read */
#define PM_F_STATE_VALID 0x4  /* pm_event.state holds the fork child's task state */

#define PM_COMM_LEN 16
#define PM_EXE_LEN 64
#define PM_FILENAME_LEN 128

/* Default ring buffer size in bytes (a power of two, a multiple of the page size). */
#define PM_RINGBUF_BYTES (2 * 1024 * 1024)
/* Processes followed at once when `follow_tgid` is set. */
#define PM_MAX_TRACKED 65536

struct pm_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 type;        /* PM_EXEC, PM_EXIT, PM_FORK, PM_DO_EXIT */
	__u32 flags;       /* PM_F_* */
	__u32 pid;         /* process id: the kernel's task->tgid */
	__u32 tid;         /* thread id: the kernel's task->pid */
	__u32 ppid;        /* task->real_parent->tgid */
	__u32 uid;         /* task->cred->uid (real) */
	__u32 gid;         /* task->cred->gid (real) */
	__u32 exit_status; /* PM_EXIT: the wait status the parent sees; PM_DO_EXIT: do_exit()'s code */
	__u32 child_pid;   /* PM_FORK: the new process's tgid */
	__u32 state;       /* PM_FORK: the child's task state when the tracepoint fired */
	char comm[PM_COMM_LEN];         /* task->comm */
	char exe[PM_EXE_LEN];           /* PM_EXEC: mm->exe_file->f_path.dentry->d_name */
	char filename[PM_FILENAME_LEN]; /* PM_EXEC: the path given to execve */
};

/* Per-CPU counters; coretool sums them over CPUs. */
struct pm_stats {
	__u64 total;        /* events the probe tried to emit (submitted + lost) */
	__u64 exec;         /* submitted, per type */
	__u64 exit;
	__u64 fork;
	__u64 do_exit;
	__u64 lost;         /* bpf_ringbuf_reserve() failed: the event was dropped */
	__u64 untracked;    /* follow mode: pm_tracked was full, a new process was not followed */
};

#endif /* PROCESS_MONITOR_H */
