/* Benchmark helper: prints "start", makes N orphans (default 10000), prints "done N" once
 * every one of them has been created, then sleeps. Each orphan is a grandchild whose parent exits at once
 * (and is reaped here), so it is reparented to the init, which must reap it when it exits;
 * it exits at once. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    printf("start\n");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0) {
            if (fork() == 0) {
                _exit(0); /* the orphan */
            }
            _exit(0);
        }
        if (child > 0) {
            waitpid(child, NULL, 0);
        }
    }
    printf("done %d\n", n);
    fflush(stdout);
    for (;;) {
        pause();
    }
}
