/*
 * Unit tests of HealthCheck's components (kernel/syscall/components.c):
 * the four seed names, probes set and cleared, disabled without one, the
 * gauges a snapshot gets, and clearing a probe while it runs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/kernel/verb_harness.h"

#include <unistd.h>

static enum cam_component_status degraded(void *arg, char *msg, size_t len)
{
	snprintf(msg, len, "half of %s", (const char *)arg);
	return CAM_COMPONENT_DEGRADED;
}

static enum cam_component_status out_of_range(void *arg, char *msg, size_t len)
{
	(void)arg;
	snprintf(msg, len, "?");
	return (enum cam_component_status)42;
}

static atomic_int slow_running, slow_done;

static enum cam_component_status slow(void *arg, char *msg, size_t len)
{
	(void)arg;
	atomic_store(&slow_running, 1);
	usleep(100 * 1000);
	snprintf(msg, len, "slow");
	atomic_store(&slow_done, 1);
	return CAM_COMPONENT_HEALTHY;
}

static void test_probes(void **state)
{
	static const char *const names[] = { "Redis Backend", "TPM Security", "Driver Runtime",
					     "Scheduler", "Context Store", "Audit Log" };
	cam_components *c;
	char msg[128];
	double ms;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_components_new(&c), 0);
	for (size_t i = 0; i < CAM_COMPONENTS_N; i++) {
		assert_string_equal(cam_components_name(i), names[i]);
		assert_int_equal(cam_components_probe(c, i, msg, sizeof(msg), &ms),
				 CAM_COMPONENT_DISABLED);
		assert_true(msg[0] != '\0');
	}
	assert_int_equal(cam_components_set(c, "Nope", degraded, "x"), CAM_ENOENT);
	assert_int_equal(cam_components_set(c, "Scheduler", NULL, NULL), CAM_EINVAL);
	assert_int_equal(cam_components_set(c, "Scheduler", degraded, "the queue"), 0);
	assert_int_equal(cam_components_set(c, "Scheduler", degraded, "again"), CAM_EEXIST);
	assert_int_equal(cam_components_probe(c, 3, msg, sizeof(msg), &ms), CAM_COMPONENT_DEGRADED);
	assert_string_equal(msg, "half of the queue");
	assert_true(ms >= 0);
	/* A snapshot's gauges: up for degraded, and the state set. */
	assert_true(h_metric("cam_os_component_up", (const char *[]){ "Scheduler", NULL }) == 1);
	assert_true(h_metric("cam_os_component_status",
			     (const char *[]){ "Scheduler", "degraded", NULL }) == 1);
	assert_true(h_metric("cam_os_component_status",
			     (const char *[]){ "Scheduler", "healthy", NULL }) == 0);
	assert_true(h_metric("cam_os_component_up", (const char *[]){ "TPM Security", NULL }) == 0);
	assert_true(h_metric("cam_os_component_status",
			     (const char *[]){ "TPM Security", "disabled", NULL }) == 1);
	/* A probe answering nonsense is unhealthy, not a crash. */
	assert_int_equal(cam_components_set(c, "TPM Security", out_of_range, NULL), 0);
	assert_int_equal(cam_components_probe(c, 1, msg, sizeof(msg), &ms), CAM_COMPONENT_UNHEALTHY);
	cam_components_clear(c, "Scheduler");
	cam_components_clear(c, "Scheduler");
	cam_components_clear(c, "Nope");
	cam_components_clear(NULL, "Scheduler");
	assert_int_equal(cam_components_probe(c, 3, msg, sizeof(msg), &ms), CAM_COMPONENT_DISABLED);
	cam_components_free(c);
	cam_components_free(NULL);
	cam_metrics_reset();
}

static void *probe_thread(void *arg)
{
	char msg[64];
	double ms;

	cam_components_probe(arg, 0, msg, sizeof(msg), &ms);
	return NULL;
}

/* Clearing waits for a run in progress: its arg may be freed after. */
static void test_clear_waits(void **state)
{
	cam_components *c;
	pthread_t t;

	(void)state;
	cam_metrics_reset();
	assert_int_equal(cam_components_new(&c), 0);
	assert_int_equal(cam_components_set(c, "Redis Backend", slow, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, probe_thread, c), 0);
	for (int i = 0; i < 2000 && !atomic_load(&slow_running); i++)
		usleep(1000);
	assert_true(atomic_load(&slow_running));
	cam_components_clear(c, "Redis Backend");
	assert_true(atomic_load(&slow_done));
	pthread_join(t, NULL);
	cam_components_free(c);
	cam_metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_clear_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
