/*
 * The hand-off from the gRPC I/O thread to the threads that run handlers.
 *
 * This is the one seam the scheduler replaces: the server only ever calls
 * cam_grpc_pool_submit() with an intrusive task, so a priority scheduler can
 * stand in for this plain FIFO pool without touching the transport.
 */
#ifndef CAM_GRPC_POOL_H
#define CAM_GRPC_POOL_H

struct cam_grpc_task {
	struct cam_grpc_task *next;               /* owned by the pool while queued */
	void (*run)(struct cam_grpc_task *task); /* runs on a worker thread */
};

typedef struct cam_grpc_pool cam_grpc_pool;

/* Starts nthreads workers (0 = one per online CPU). CAM_ENOMEM/CAM_EIO. */
int cam_grpc_pool_new(unsigned nthreads, cam_grpc_pool **out);
/*
 * Queues a task; some worker calls task->run(task) once, after which the
 * pool never touches it again. Never blocks on a handler, cannot fail.
 * Tasks submitted after cam_grpc_pool_stop() run on the caller's thread.
 */
void cam_grpc_pool_submit(cam_grpc_pool *p, struct cam_grpc_task *task);
/* Runs every queued task, then joins the workers. Idempotent. */
void cam_grpc_pool_stop(cam_grpc_pool *p);
/* Stops if needed and frees; NULL is fine. */
void cam_grpc_pool_free(cam_grpc_pool *p);
/* Tasks queued and not yet picked up by a worker. */
unsigned long cam_grpc_pool_queued(cam_grpc_pool *p);

#endif
