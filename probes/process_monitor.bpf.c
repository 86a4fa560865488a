// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * process_monitor.bpf.c: coretool's bundled CO-RE process monitor.
 *
 * Reports exec, fork and exit of processes through a ring buffer, reading every kernel
 * structure through CO-RE relocations so that one object runs on every BTF-enabled kernel.
 * `coretool selftest` checks what it reads against processes it spawned itself; `coretool
 * monitor` prints it live.
 *
 * Classic mistakes avoided here:
 * - task->pid is the thread id; the process id is task->tgid.
 * - task->exit_code is a raw wait status (code << 8 | signal), and for a group exit the parent
 *   sees signal->group_exit_code instead (wait_task_zombie()); we report that status and
 *   userspace decodes it.
 * - sched_process_fork's child_pid is the child's thread id and the tracepoint also fires for
 *   new threads; a fork event is emitted only when a new process (thread group) was created.
 * - sched_process_exit fires for every thread; a process exit is the exit of its last thread.
 * - Tracepoint records change layout too (sched_process_fork's comms became __data_loc strings
 *   in 6.x), so even ctx fields are read with BPF_CORE_READ: that relocates them whether or
 *   not vmlinux.h marks its types preserve_access_index.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "process_monitor.h"

/* GPL-compatible: bpf_probe_read_kernel() and friends are GPL-only helpers. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* 0: report every process. Otherwise report only this process and its descendants. */
const volatile __u32 follow_tgid = 0;

/* Unused by the programs: it puts struct pm_event into the object's BTF (local variables'
 * types are not emitted), where coretool's tests compare the record layout with its decoder. */
const volatile struct pm_event *const pm_event_layout = 0;

/* include/linux/sched/signal.h; unchanged since 2.6 (a #define, so not in BTF). */
#define SIGNAL_GROUP_EXIT 0x00000004

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PM_RINGBUF_BYTES);
} pm_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_stats);
} pm_stats SEC(".maps");

/* Follow mode: the tgids of the followed processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MAX_TRACKED);
	__type(key, __u32);
	__type(value, __u8);
} pm_tracked SEC(".maps");

/* Before 5.14 (commit 2f064a59a11f) task_struct's state field was `long state`. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline struct pm_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pm_stats, &zero);
}

static __always_inline bool followed(__u32 tgid)
{
	if (!follow_tgid || tgid == follow_tgid)
		return true;
	return bpf_map_lookup_elem(&pm_tracked, &tgid) != NULL;
}

/* Reserve a record, counting the attempt and, if the ring buffer is full, the loss. */
static __always_inline struct pm_event *reserve(struct pm_stats *s)
{
	struct pm_event *e;

	if (s)
		__sync_fetch_and_add(&s->total, 1);
	e = bpf_ringbuf_reserve(&pm_events, sizeof(*e), 0);
	if (!e && s)
		__sync_fetch_and_add(&s->lost, 1);
	return e;
}

/* The fields every event carries, read from `task`. */
static __always_inline void fill_task(struct pm_event *e, struct task_struct *task, __u32 type)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->flags = 0;
	e->pid = BPF_CORE_READ(task, tgid);
	e->tid = BPF_CORE_READ(task, pid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	e->exit_status = 0;
	e->child_pid = 0;
	e->state = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	e->exe[0] = '\0';
	e->filename[0] = '\0';
}

/* task_struct's run state, under whichever name this kernel uses. */
static __always_inline __u32 task_state(struct task_struct *task, __u32 *flags)
{
	if (bpf_core_field_exists(task->__state)) {
		*flags |= PM_F_STATE_NEW;
		return BPF_CORE_READ(task, __state);
	}
	struct task_struct___pre514 *old = (void *)task;

	return (__u32)BPF_CORE_READ(old, state);
}

SEC("tracepoint/sched/sched_process_exec")
int pm_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pm_stats *s;
	struct pm_event *e;
	const unsigned char *name;
	unsigned int loc;

	if (!followed(BPF_CORE_READ(task, tgid)))
		return 0;
	s = stats();
	e = reserve(s);
	if (!e)
		return 0;
	fill_task(e, task, PM_EXEC);
	name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(&e->exe, sizeof(e->exe), name);
	/* __data_loc: the low 16 bits are the string's offset inside the record. */
	loc = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), (void *)ctx + loc);
	bpf_ringbuf_submit(e, 0);
	if (s)
		__sync_fetch_and_add(&s->exec, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int pm_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 flags = 0, status;
	struct pm_stats *s;
	struct pm_event *e;
	bool group_dead;

	if (bpf_core_field_exists(ctx->group_dead)) {
		flags |= PM_F_GROUP_DEAD;
		group_dead = BPF_CORE_READ(ctx, group_dead);
	} else {
		/* Older kernels (5.10, 6.1 and 6.12 among them) pass no group_dead; do_exit()
		 * decremented signal->live before calling this tracepoint, so the last thread
		 * sees zero. */
		group_dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	}
	if (!group_dead || !followed(tgid))
		return 0;
	if (follow_tgid && tgid != follow_tgid)
		bpf_map_delete_elem(&pm_tracked, &tgid);

	/* What wait_task_zombie() hands the parent. */
	if (BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT)
		status = BPF_CORE_READ(task, signal, group_exit_code);
	else
		status = BPF_CORE_READ(task, exit_code);

	s = stats();
	e = reserve(s);
	if (!e)
		return 0;
	fill_task(e, task, PM_EXIT);
	e->flags = flags;
	e->exit_status = status;
	bpf_ringbuf_submit(e, 0);
	if (s)
		__sync_fetch_and_add(&s->exit, 1);
	return 0;
}

/*
 * The task that copy_process() just linked as the newest child of `parent`, if its thread id
 * is `child_tid`. Threads are not linked into children lists, so NULL means a new thread (or a
 * CLONE_PARENT child, linked under the parent's parent: the caller tries that too).
 */
static __always_inline struct task_struct *newest_child(struct task_struct *parent, pid_t child_tid)
{
	struct list_head *head, *last;
	struct task_struct *child;

	head = (void *)parent + bpf_core_field_offset(struct task_struct, children);
	last = BPF_CORE_READ(parent, children.prev);
	if (!last || last == head)
		return NULL;
	child = (void *)last - bpf_core_field_offset(struct task_struct, sibling);
	if (BPF_CORE_READ(child, pid) != child_tid)
		return NULL;
	return child;
}

SEC("tracepoint/sched/sched_process_fork")
int pm_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	struct task_struct *parent = (struct task_struct *)bpf_get_current_task();
	struct task_struct *child;
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid, flags = PM_F_STATE_VALID;
	pid_t child_tid = BPF_CORE_READ(ctx, child_pid);
	struct pm_stats *s;
	struct pm_event *e;
	__u8 one = 1;

	if (!followed(ptgid))
		return 0;
	child = newest_child(parent, child_tid);
	if (!child)
		child = newest_child(BPF_CORE_READ(parent, real_parent), child_tid);
	if (!child)
		return 0; /* a new thread, not a new process */
	ctgid = BPF_CORE_READ(child, tgid);
	s = stats();
	if (follow_tgid && bpf_map_update_elem(&pm_tracked, &ctgid, &one, BPF_ANY) && s)
		__sync_fetch_and_add(&s->untracked, 1);

	e = reserve(s);
	if (!e)
		return 0;
	fill_task(e, parent, PM_FORK);
	e->child_pid = ctgid;
	e->state = task_state(child, &flags);
	e->flags = flags;
	bpf_ringbuf_submit(e, 0);
	if (s)
		__sync_fetch_and_add(&s->fork, 1);
	return 0;
}

/* Optional: kernels without kprobe support fail to attach this one; the rest still works. */
SEC("kprobe/do_exit")
int BPF_KPROBE(pm_do_exit, long code)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct pm_stats *s;
	struct pm_event *e;

	if (BPF_CORE_READ(task, pid) != tgid || !followed(tgid))
		return 0;
	s = stats();
	e = reserve(s);
	if (!e)
		return 0;
	fill_task(e, task, PM_DO_EXIT);
	e->exit_status = (__u32)code;
	bpf_ringbuf_submit(e, 0);
	if (s)
		__sync_fetch_and_add(&s->do_exit, 1);
	return 0;
}
