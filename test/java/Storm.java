// A GC-heavy stage: an allocation storm in a small heap. It keeps a live set of about 60% of
// the heap (a ring of 1 KiB arrays, replaced at random) and allocates garbage besides, so the
// collector runs back to back. Usage: java -Xmx32m -XX:+UseParallelGC Storm SECONDS
import java.util.concurrent.ThreadLocalRandom;

public final class Storm {
    public static void main(String[] args) {
        long end = System.nanoTime() + (long) (Double.parseDouble(args[0]) * 1e9);
        byte[][] live = new byte[19_000][];
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long sum = 0;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 10_000; i++) {
                live[rnd.nextInt(live.length)] = new byte[1024];
                byte[] junk = new byte[256];
                sum += junk.length;
            }
        }
        System.out.println(sum);
    }
}
