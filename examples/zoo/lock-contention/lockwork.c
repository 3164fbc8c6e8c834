// Lock-contention stage: THREADS workers share one pthread mutex. Each iteration does
// ~30 us of work inside the critical section and a little outside, so the lock (not the
// CPUs) limits throughput: one thread holds it, the others sleep on its futex.
// Every RESULT_EVERY iterations a thread sends a result record to the sink over TCP.
//
//   lockwork run  PORT THREADS STATEDIR   workers + sink connection; every 0.1 s writes
//                 STATEDIR/worker.count "ITERATIONS NS" and STATEDIR/worker.lock
//                 "ITERATIONS HELD_NS NS" (NS: CLOCK_MONOTONIC, as examples/zoo/lib.sh reads)
//   lockwork solo SECONDS                 one thread, no lock waits: prints iterations/s and
//                 the mean hold time in us
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INSIDE_ROUNDS 18000  // ~30 us on this machine
#define OUTSIDE_ROUNDS 2000  // ~3 us
#define RESULT_EVERY 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t shared_state = 88172645463325252ull;  // guarded by lock
static uint64_t held_ns;                              // guarded by lock
static uint64_t iterations;                           // guarded by lock
static int port;

static void publish(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
  rename(tmp, path);  // readers never see a half-written file
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

// xorshift rounds: CPU work the compiler cannot drop.
static uint64_t churn(uint64_t x, int rounds) {
  for (int i = 0; i < rounds; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static uint64_t one_iteration(uint64_t local) {
  pthread_mutex_lock(&lock);
  uint64_t t0 = now_ns();
  shared_state = churn(shared_state ^ local, INSIDE_ROUNDS);
  uint64_t out = shared_state;
  iterations++;
  held_ns += now_ns() - t0;
  pthread_mutex_unlock(&lock);
  return churn(out, OUTSIDE_ROUNDS);
}

static int connect_sink(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 100; i++) {
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    usleep(50000);
  }
  perror("connect sink");
  exit(1);
}

static void *worker(void *arg) {
  int fd = connect_sink();
  uint64_t local = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  char rec[64];
  for (uint64_t n = 1;; n++) {
    local = one_iteration(local);
    if (n % RESULT_EVERY == 0) {
      int len = snprintf(rec, sizeof rec, "%lu %016lx\n", (unsigned long)RESULT_EVERY, (unsigned long)local);
      if (write(fd, rec, len) != len) {
        perror("write sink");
        exit(1);
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "solo") == 0) {
    double secs = atof(argv[2]);
    uint64_t t0 = now_ns(), local = 1, n = 0;
    while (now_ns() - t0 < secs * 1e9) local = one_iteration(local), n++;
    printf("%.1f %.2f\n", n / ((now_ns() - t0) / 1e9), held_ns / 1e3 / n);  // it/s, mean hold us
    return local == 0;
  }
  if (argc != 5 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: %s run PORT THREADS STATEDIR | solo SECONDS\n", argv[0]);
    return 2;
  }
  port = atoi(argv[2]);
  int threads = atoi(argv[3]);
  const char *dir = argv[4];
  for (long i = 0; i < threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, worker, (void *)i);
  }
  for (;;) {  // publish counters: status turns them into rates
    usleep(100000);
    pthread_mutex_lock(&lock);
    uint64_t it = iterations, held = held_ns;
    pthread_mutex_unlock(&lock);
    char text[128];
    uint64_t t = now_ns();
    snprintf(text, sizeof text, "%lu %lu\n", (unsigned long)it, (unsigned long)t);
    publish(dir, "worker.count", text);
    snprintf(text, sizeof text, "%lu %lu %lu\n", (unsigned long)it, (unsigned long)held, (unsigned long)t);
    publish(dir, "worker.lock", text);
  }
}
