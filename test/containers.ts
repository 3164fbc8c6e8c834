// The container tests' workload, built once and run the same (same binary, same comm) in every
// container, so that only the cgroup tells them apart. Shared by test/containers.test.ts and
// bench/containers.mjs.
export const CT_WORKLOAD = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* ctw work N BYTES PORT DIR NAME: wait for DIR/go, make N getppid() calls, send BYTES to
 *   127.0.0.1:PORT (BYTES > 0), write DIR/NAME.done, then wait for DIR/quit.
 * ctw serve PORT DIR: accept connections and read each to EOF, for ever (a host process).
 * ctw sink PORT: the same, as the last stage of a pipeline.
 * ctw source PORT: connect and send 64 KiB chunks for ever, 2 ms apart. */
static void nap(void) { struct timespec t = { 0, 5000000 }; nanosleep(&t, 0); }
static int exists(const char *dir, const char *name) {
  char p[512]; struct stat st; snprintf(p, sizeof p, "%s/%s", dir, name); return stat(p, &st) == 0;
}
static int dial(int port) {
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  for (int i = 0; i < 400 && connect(s, (void *)&a, sizeof a) != 0; i++) nap();
  return s;
}
static void serve(int port) {
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 16)) { perror("listen"); exit(2); }
  static char buf[1 << 16];
  for (;;) {
    int c = accept(ls, 0, 0);
    if (c < 0) continue;
    if (fork() == 0) { while (read(c, buf, sizeof buf) > 0) {} _exit(0); }
    close(c);
  }
}
int main(int argc, char **argv) {
  if (argc >= 3 && (!strcmp(argv[1], "serve") || !strcmp(argv[1], "sink"))) serve(atoi(argv[2]));
  static char buf[1 << 16];
  if (argc >= 3 && !strcmp(argv[1], "source")) {
    int s = dial(atoi(argv[2]));
    struct timespec t = { 0, 2000000 };
    for (;;) { if (write(s, buf, sizeof buf) < 0) return 1; nanosleep(&t, 0); }
  }
  if (argc < 7 || strcmp(argv[1], "work")) { fprintf(stderr, "usage\\n"); return 2; }
  long n = atol(argv[2]), bytes = atol(argv[3]);
  int port = atoi(argv[4]);
  const char *dir = argv[5], *name = argv[6];
  while (!exists(dir, "go")) nap();
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  if (bytes > 0) {
    int s = dial(port);
    long left = bytes;
    while (left > 0) { long k = left < (long)sizeof buf ? left : (long)sizeof buf; ssize_t w = write(s, buf, k); if (w <= 0) return 1; left -= w; }
    close(s);
  }
  char p[512]; snprintf(p, sizeof p, "%s/%s.done", dir, name);
  FILE *f = fopen(p, "w"); fprintf(f, "%d\\n", getpid()); fclose(f);
  while (!exists(dir, "quit")) nap();
  return 0;
}
`;
