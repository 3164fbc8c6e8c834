// A CPU-bound Java program with two hot methods of known weight (alpha about 60%, beta about
// 40% of its time), kept out of line so the JIT map names them (never inlined into main).
// Usage: java -XX:CompileCommand=dontinline,Hot::* Hot SECONDS
public final class Hot {
    static long alpha(long x) {
        for (int i = 0; i < 3000; i++) x = x * 6364136223846793005L + 1442695040888963407L;
        return x;
    }

    static long beta(long x) {
        for (int i = 0; i < 2000; i++) x = x * 2862933555777941757L + 3037000493L;
        return x;
    }

    public static void main(String[] args) {
        long end = System.nanoTime() + (long) (Double.parseDouble(args[0]) * 1e9);
        long x = 1;
        while (System.nanoTime() < end) for (int i = 0; i < 100; i++) x = beta(alpha(x));
        System.out.println(x);
    }
}
