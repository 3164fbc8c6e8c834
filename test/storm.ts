// An open() storm with an exact count of the calls it made, for tests and benchmarks.

/** storm RATE SECONDS THREADS PATH: failing open()s at RATE/s in all (0: flat out), started by a
 * line on stdin; prints "calls seconds", then stays until stdin closes (so `-p` keeps tracing). */
export const STORM = `
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static const char *path;
static double rate, seconds, start;
static int threads;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void *run(void *arg) {
  long *n = arg;
  double per = rate / threads;
  for (;;) {
    double t = now();
    if (t >= start + seconds) break;
    long due = rate > 0 ? (long)((t - start) * per) + 100 : *n + 1000;
    if (*n >= due) { struct timespec s = {0, 200000}; nanosleep(&s, 0); continue; }
    while (*n < due) { if (open(path, O_RDONLY) >= 0) exit(2); (*n)++; }
  }
  return 0;
}
int main(int argc, char **argv) {
  rate = atof(argv[1]); seconds = atof(argv[2]); threads = atoi(argv[3]); path = argv[4];
  char buf[8];
  if (read(0, buf, sizeof buf) <= 0) return 1;
  pthread_t t[64]; long n[64] = {0};
  start = now();
  for (int i = 0; i < threads; i++) pthread_create(&t[i], 0, run, &n[i]);
  long total = 0;
  for (int i = 0; i < threads; i++) { pthread_join(t[i], 0); total += n[i]; }
  printf("%ld %.6f\\n", total, now() - start);
  fflush(stdout);
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
`;
export const STORM_PATH = '/nonexistent-bpfkit-storm';
