/*
 * pause: the process that holds a pod's namespaces open, for the e2e
 * harness's sandbox image (the upstream pause image cannot be pulled here).
 * Like kubernetes' build/pause/linux/pause.c: it reaps orphaned children,
 * exits 0 on SIGINT or SIGTERM, and otherwise sleeps forever.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = { .sa_handler = on_term };
	struct sigaction child = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP };

	if (sigaction(SIGINT, &term, NULL) < 0)
		return 1;
	if (sigaction(SIGTERM, &term, NULL) < 0)
		return 2;
	if (sigaction(SIGCHLD, &child, NULL) < 0)
		return 3;
	for (;;)
		pause();
	return 0;
}
