// SPDX-License-Identifier: GPL-2.0
/*
 * crashkind: makes the running kernel report one kind of bug, so that the console parser of
 * `checker` (Sources/checker/VM/CrashSignature.swift) is tested on real reports of the kernel
 * the test VM boots, not on hand-written text. Used only by capture.sh, in the test VM.
 *
 *   insmod crashkind.ko kind=oops|gpf|warning|bug|hang|rcu-stall|soft-lockup
 *
 * Each kind runs in a function of its own (noinline), so that the report's frame names the
 * kind and the parser's choice of frame is checked: crashkind_null_write for an oops, and so on.
 */
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/string.h>

static char *kind = "warning";
module_param(kind, charp, 0444);
MODULE_PARM_DESC(kind, "oops, gpf, warning, bug, hang, rcu-stall or soft-lockup");

static DEFINE_MUTEX(crashkind_lock);

static noinline void crashkind_null_write(void)
{
	*(volatile int *)NULL = 1;
}

static noinline void crashkind_noncanonical_write(void)
{
	*(volatile long *)0xdead000000000122UL = 1;	/* LIST_POISON2, as a use-after-free would */
}

static noinline void crashkind_warn(void)
{
	WARN_ON(strcmp(kind, "warning") == 0);
}

static noinline void crashkind_bug(void)
{
	BUG_ON(strcmp(kind, "bug") == 0);
}

/* Takes a mutex it holds: the task waits uninterruptibly forever (the hung task detector). */
static noinline void crashkind_deadlock(void)
{
	mutex_lock(&crashkind_lock);
	mutex_lock(&crashkind_lock);
}

/* Spins with preemption off: an RCU grace period cannot end, the CPU is not scheduled. */
static noinline void crashkind_spin(unsigned int seconds)
{
	unsigned int i;

	preempt_disable();
	for (i = 0; i < seconds * 1000; i++)
		mdelay(1);
	preempt_enable();
}

static int __init crashkind_init(void)
{
	if (!strcmp(kind, "oops"))
		crashkind_null_write();
	else if (!strcmp(kind, "gpf"))
		crashkind_noncanonical_write();
	else if (!strcmp(kind, "warning"))
		crashkind_warn();
	else if (!strcmp(kind, "bug"))
		crashkind_bug();
	else if (!strcmp(kind, "hang"))
		crashkind_deadlock();
	else if (!strcmp(kind, "rcu-stall") || !strcmp(kind, "soft-lockup"))
		crashkind_spin(30);
	else
		return -EINVAL;
	return 0;
}

static void __exit crashkind_exit(void)
{
}

module_init(crashkind_init);
module_exit(crashkind_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("checker: make the kernel report one kind of bug (test fixtures)");
