// SPDX-License-Identifier: GPL-2.0
/*
 * What /proc/PID/fdinfo/FD shows of an anonymous-inode descriptor's own
 * state (inotify, eventfd, signalfd, timerfd, epoll), for its fdinfo record:
 * the file's show_fdinfo() writing into a seq_file over our buffer.
 *
 * An epoll's show_fdinfo() takes the epoll's mutex (ep->mtx), which
 * epoll_ctl(EPOLL_CTL_ADD) holds while it polls the file being added, and a
 * FUSE file's poll waits for its daemon for as long as the daemon likes.
 * mutex_lock() takes no bound, and struct eventpoll is private to
 * fs/eventpoll.c, so its mutex cannot be tried from here. So an epoll is
 * read by a helper thread, and the stream waits for the helper within its
 * own bounds (ckpt_stream_check(): deadline, sink, requester, unload).
 * Past them the stream fails and the helper is left to finish alone,
 * holding the file, its buffer and a module reference (rmmod is refused,
 * not blocked) until the mutex comes free; at most fdinfo_helpers (a
 * module parameter) helpers live at once, after which an epoll is refused
 * at once.
 * The others take spinlocks or the inotify group's mutex, which inotify
 * takes to edit its marks after any path lookup, and are read in place.
 */
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/ckpt.h>

#include "internal.h"

#define CKPT_FDINFO_SLICE_MS	10

/*
 * The anonymous-inode descriptors whose show_fdinfo() reads only the file
 * it is given: not pidfd's, which reads the /proc file the seq_file of
 * /proc/PID/fdinfo belongs to.
 */
static const char * const ckpt_fdinfo_names[] = {
	"inotify", "[eventfd]", "[signalfd]", "[timerfd]", "[eventpoll]",
};

static atomic_t ckpt_fdinfo_live = ATOMIC_INIT(0);

bool ckpt_fdinfo_wanted(struct file *file)
{
	const char *name = file->f_path.dentry->d_name.name;
	int i;

	if (file_inode(file)->i_sb->s_magic != ANON_INODE_FS_MAGIC ||
	    !file->f_op->show_fdinfo)
		return false;
	for (i = 0; i < ARRAY_SIZE(ckpt_fdinfo_names); i++)
		if (!strcmp(name, ckpt_fdinfo_names[i]))
			return true;
	return false;
}

static bool ckpt_fdinfo_is_epoll(struct file *file)
{
	return !strcmp(file->f_path.dentry->d_name.name, "[eventpoll]");
}

/* One read by a helper: the stream's reference and the helper's. */
struct ckpt_fdinfo_job {
	refcount_t ref;
	struct completion done;
	struct file *file;	/* the job's own reference */
	struct seq_file m;	/* m.buf: kvmalloc'd, charged to the requester */
};

static void ckpt_fdinfo_job_put(struct ckpt_fdinfo_job *job)
{
	if (!refcount_dec_and_test(&job->ref))
		return;
	fput(job->file);
	kvfree(job->m.buf);
	kfree(job);
}

static int ckpt_fdinfo_helper(void *arg)
{
	struct ckpt_fdinfo_job *job = arg;

	job->file->f_op->show_fdinfo(&job->m, job->file);
	complete(&job->done);
	ckpt_fdinfo_job_put(job);
	atomic_dec(&ckpt_fdinfo_live);
	module_put_and_kthread_exit(0);
}

/* @m's text, moved to *text; none when it overflowed CKPT_FDINFO_MAX or is empty. */
static void ckpt_fdinfo_take(struct seq_file *m, char **text, size_t *len)
{
	if (seq_has_overflowed(m) || !m->count)
		return;
	*text = m->buf;
	*len = m->count;
	m->buf = NULL;
}

/*
 * An epoll's text, by a helper thread, waited for within the stream's
 * bounds (the top comment). Returns 0, or the stream's error once it
 * failed (s->reason says why).
 */
static int ckpt_fdinfo_read_epoll(struct ckpt_stream *s, struct file *file,
				  char **text, size_t *len)
{
	struct ckpt_fdinfo_job *job;
	struct task_struct *t;
	int err;

	if (atomic_inc_return(&ckpt_fdinfo_live) > READ_ONCE(ckpt_fdinfo_helpers)) {
		atomic_dec(&ckpt_fdinfo_live);
		ckpt_set_abort(s, CKPT_ABORT_REASON_FAULT, -EBUSY,
			       "fdinfo_helpers threads are reading epoll descriptors already (their mutexes are held)");
		return -EBUSY;
	}
	err = -ENOMEM;
	job = kzalloc(sizeof(*job), GFP_KERNEL_ACCOUNT);
	if (!job)
		goto out_count;
	job->m.size = CKPT_FDINFO_MAX;
	job->m.buf = kvmalloc(CKPT_FDINFO_MAX, GFP_KERNEL_ACCOUNT);
	if (!job->m.buf)
		goto out_job;
	job->m.file = file;
	job->file = get_file(file);
	init_completion(&job->done);
	refcount_set(&job->ref, 2);
	/*
	 * Not __module_get(): once rmmod has passed the module's reference
	 * check, the exit may free the code under a helper. This one fails
	 * then, and with the helper's reference taken rmmod is refused.
	 */
	if (!try_module_get(THIS_MODULE)) {
		ckpt_set_abort(s, CKPT_ABORT_REASON_UNLOAD, -ESHUTDOWN,
			       "the ckpt module is being unloaded");
		err = -ESHUTDOWN;
		goto out_file;
	}
	t = kthread_run(ckpt_fdinfo_helper, job, "ckpt-fdinfo");
	if (IS_ERR(t)) {
		module_put(THIS_MODULE);
		err = PTR_ERR(t);
		goto out_file;
	}
	while (!wait_for_completion_timeout(&job->done,
					    msecs_to_jiffies(CKPT_FDINFO_SLICE_MS))) {
		if (time_after(jiffies, s->deadline))
			ckpt_set_abort(s, CKPT_ABORT_REASON_FAULT, -EBUSY,
				       "an epoll descriptor's mutex stayed taken until the stream's deadline (epoll_ctl() waits on a file it adds)");
		err = ckpt_stream_check(s);
		if (err) {
			ckpt_fdinfo_job_put(job);
			return err;
		}
	}
	ckpt_fdinfo_take(&job->m, text, len);
	ckpt_fdinfo_job_put(job);
	return 0;

out_file:
	fput(job->file);
out_job:
	kvfree(job->m.buf);
	kfree(job);
out_count:
	atomic_dec(&ckpt_fdinfo_live);
	return err;
}

/*
 * @file's fdinfo text (kvmalloc'd, charged to the requester) in *text, or
 * *text NULL when it is longer than CKPT_FDINFO_MAX. Under our reference to
 * @file and no other lock: show_fdinfo() takes what it needs, as a read of
 * /proc does.
 */
int ckpt_fdinfo_read(struct ckpt_stream *s, struct file *file, char **text,
		     size_t *len)
{
	struct seq_file m = { .size = CKPT_FDINFO_MAX, .file = file };

	*text = NULL;
	*len = 0;
	if (ckpt_fdinfo_is_epoll(file))
		return ckpt_fdinfo_read_epoll(s, file, text, len);
	m.buf = kvmalloc(CKPT_FDINFO_MAX, GFP_KERNEL_ACCOUNT);
	if (!m.buf)
		return -ENOMEM;
	file->f_op->show_fdinfo(&m, file);
	ckpt_fdinfo_take(&m, text, len);
	kvfree(m.buf);
	return 0;
}
