/* Benchmark helper: prints "ready", then writes one byte to stdout for every SIGUSR1 it
 * receives, as soon as it receives it (sigwaitinfo: no handler, no delay). Used to time
 * signal forwarding from an init to its program. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    write(1, "ready\n", 6);
    for (;;) {
        if (sigwaitinfo(&set, NULL) == SIGUSR1) {
            write(1, "s", 1);
        }
    }
}
