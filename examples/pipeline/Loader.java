// Loader, in Java: the field report's own loader. Same behaviour as loader.py (see there):
// every POLL_INTERVAL seconds it takes the next batch of the slot's change log with
//     pg_logical_slot_get_changes(slot, NULL, BATCH_SIZE)
// and hands the row changes to a short-lived thread that appends them to a Redis stream (XADD,
// one pipelined round trip). With BATCH_SIZE 10 a poll moves one producer transaction, so it
// tops out near 100 changes/s; with 5000 every poll drains the backlog.
//
// The JDK alone: PostgreSQL's wire protocol (v3, simple query; the lab's cluster trusts local
// TCP connections, so no password exchange) and Redis's RESP are a few dozen lines each.
// Each worker thread is named "xadd-N" (N counts from 1) and logged as it starts, so tools that
// count threads have a ground truth: the log's "worker xadd-N" lines.
import java.io.*;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.ArrayList;
import java.util.List;

public final class Loader {
    static final String LAB_DIR = env("LAB_DIR", "/tmp/bpfkit-pipeline");
    static final int PG_PORT = Integer.parseInt(env("PG_PORT", "25432"));
    static final int REDIS_PORT = Integer.parseInt(env("REDIS_PORT", "26379"));
    static final int BATCH_SIZE = Integer.parseInt(env("BATCH_SIZE", "10"));
    static final String SLOT = env("SLOT", "bpfkit_lab");
    static final String STREAM = env("STREAM", "txlog");
    static final double POLL_INTERVAL = Double.parseDouble(env("POLL_INTERVAL", "0.1"));
    static final int STREAM_MAXLEN = Integer.parseInt(env("STREAM_MAXLEN", "100000"));
    static final long COUNTER_EVERY_NS = 250_000_000L;
    /** Set by SIGTERM (a shutdown hook): the batch in flight completes, then the loader exits. */
    static volatile boolean stopping;

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    /** A PostgreSQL connection speaking protocol 3.0 (simple queries only). */
    static final class Pg {
        final DataInputStream in;
        final DataOutputStream out;

        Pg(String host, int port, String user, String db) throws IOException {
            Socket s = new Socket(host, port);
            s.setTcpNoDelay(true);
            in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 16));
            out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 1 << 16));
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            DataOutputStream b = new DataOutputStream(body);
            b.writeInt(196608); // protocol 3.0
            for (String kv : new String[] {"user", user, "database", db, "client_encoding", "UTF8"}) cstr(b, kv);
            b.writeByte(0);
            out.writeInt(body.size() + 4);
            body.writeTo(out);
            out.flush();
            for (;;) {
                int type = in.readUnsignedByte();
                byte[] m = readBody();
                if (type == 'R') {
                    int code = ((m[0] & 0xff) << 24) | ((m[1] & 0xff) << 16) | ((m[2] & 0xff) << 8) | (m[3] & 0xff);
                    if (code != 0) throw new IOException("postgres wants authentication " + code + "; the lab's cluster trusts local connections");
                } else if (type == 'E') {
                    throw new IOException("postgres: " + errorText(m));
                } else if (type == 'Z') {
                    return;
                } // 'S' parameter status, 'K' backend key: not needed
            }
        }

        static void cstr(DataOutputStream b, String s) throws IOException {
            b.write(s.getBytes(StandardCharsets.UTF_8));
            b.writeByte(0);
        }

        byte[] readBody() throws IOException {
            byte[] m = new byte[in.readInt() - 4];
            in.readFully(m);
            return m;
        }

        static String errorText(byte[] m) {
            // Fields: a type byte then a C string; 'M' is the message.
            for (int i = 0; i < m.length && m[i] != 0;) {
                int end = i + 1;
                while (end < m.length && m[end] != 0) end++;
                if (m[i] == 'M') return new String(m, i + 1, end - i - 1, StandardCharsets.UTF_8);
                i = end + 1;
            }
            return "error";
        }

        /** Rows of a simple query, each a list of text columns (null for SQL NULL). */
        List<String[]> query(String sql) throws IOException {
            byte[] q = sql.getBytes(StandardCharsets.UTF_8);
            out.writeByte('Q');
            out.writeInt(q.length + 5);
            out.write(q);
            out.writeByte(0);
            out.flush();
            List<String[]> rows = new ArrayList<>();
            String error = null;
            for (;;) {
                int type = in.readUnsignedByte();
                byte[] m = readBody();
                if (type == 'D') {
                    int n = ((m[0] & 0xff) << 8) | (m[1] & 0xff);
                    String[] row = new String[n];
                    int p = 2;
                    for (int c = 0; c < n; c++) {
                        int len = ((m[p] & 0xff) << 24) | ((m[p + 1] & 0xff) << 16) | ((m[p + 2] & 0xff) << 8) | (m[p + 3] & 0xff);
                        p += 4;
                        if (len >= 0) {
                            row[c] = new String(m, p, len, StandardCharsets.UTF_8);
                            p += len;
                        }
                    }
                    rows.add(row);
                } else if (type == 'E') {
                    error = errorText(m);
                } else if (type == 'Z') {
                    if (error != null) throw new IOException("postgres: " + error);
                    return rows;
                }
            }
        }
    }

    /** A Redis connection: commands as RESP arrays of bulk strings, pipelined. */
    static final class Redis {
        final InputStream in;
        final OutputStream out;

        Redis(String host, int port) throws IOException {
            Socket s = new Socket(host, port);
            s.setTcpNoDelay(true);
            in = new BufferedInputStream(s.getInputStream(), 1 << 16);
            out = new BufferedOutputStream(s.getOutputStream(), 1 << 16);
        }

        void command(String... args) throws IOException {
            out.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            for (String a : args) {
                byte[] b = a.getBytes(StandardCharsets.UTF_8);
                out.write(("$" + b.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(b);
                out.write('\r');
                out.write('\n');
            }
        }

        String line() throws IOException {
            StringBuilder sb = new StringBuilder();
            for (int c; (c = in.read()) != '\r';) {
                if (c < 0) throw new EOFException("redis closed the connection");
                sb.append((char) c);
            }
            in.read(); // '\n'
            return sb.toString();
        }

        /** Read one reply (XADD answers with a bulk string: the entry id). */
        void reply() throws IOException {
            String l = line();
            switch (l.charAt(0)) {
                case '-': throw new IOException("redis: " + l.substring(1));
                case '$': {
                    int n = Integer.parseInt(l.substring(1));
                    if (n >= 0) in.readNBytes(n + 2);
                    break;
                }
                default: break; // '+' / ':' carry their value on the line
            }
        }
    }

    static void append(Redis rds, List<String[]> changes) {
        try {
            String maxlen = Integer.toString(STREAM_MAXLEN);
            for (String[] c : changes) rds.command("XADD", STREAM, "MAXLEN", "~", maxlen, "*", "lsn", c[0], "xid", c[1], "data", c[2]);
            rds.out.flush();
            for (int i = 0; i < changes.size(); i++) rds.reply();
        } catch (IOException e) {
            System.err.println("loader: " + e.getMessage());
            System.exit(1);
        }
    }

    static void writeCounter(long total) throws IOException {
        Path path = Paths.get(LAB_DIR, "loader.count");
        Path tmp = Paths.get(LAB_DIR, "loader.count.tmp");
        String json = String.format("{\"pid\": %d, \"total\": %d, \"time\": %.6f}", ProcessHandle.current().pid(), total, System.currentTimeMillis() / 1000.0);
        Files.write(tmp, json.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static void main(String[] args) throws IOException {
        if (!SLOT.matches("[a-z0-9_]+")) throw new IllegalArgumentException("SLOT must be a plain identifier");
        Pg pg = new Pg("127.0.0.1", PG_PORT, "postgres", "postgres");
        Redis rds = new Redis("127.0.0.1", REDIS_PORT);
        String sql = "SELECT lsn::text, xid::text, data FROM pg_logical_slot_get_changes('" + SLOT + "', NULL, " + BATCH_SIZE + ")";
        long total = 0;
        long workers = 0;
        long lastWrite = 0;
        writeCounter(total);
        // run.sh stop sends SIGTERM: every worker that started also finishes (the log stays exact).
        Thread mainThread = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping = true;
            mainThread.interrupt();
            try { mainThread.join(5000); } catch (InterruptedException e) { /* exiting anyway */ }
        }));
        long intervalNs = (long) (POLL_INTERVAL * 1e9);
        long nextPoll = System.nanoTime();
        while (!stopping) {
            List<String[]> rows = pg.query(sql);
            // test_decoding also emits BEGIN/COMMIT rows; only row changes go to the log.
            List<String[]> changes = new ArrayList<>();
            for (String[] r : rows) if (r[2] != null && r[2].startsWith("table ")) changes.add(r);
            if (!changes.isEmpty()) {
                String name = "xadd-" + (++workers);
                Thread worker = new Thread(() -> append(rds, changes), name);
                System.out.println("worker " + name + " batch " + changes.size());
                worker.start();
                joinUninterruptibly(worker);
                total += changes.size();
            }
            long now = System.nanoTime();
            if (now - lastWrite >= COUNTER_EVERY_NS) {
                System.out.flush();
                writeCounter(total);
                lastWrite = now;
            }
            // A fixed poll schedule: the time a poll takes does not add to the interval.
            nextPoll += intervalNs;
            long delay = nextPoll - System.nanoTime();
            if (delay <= 0) nextPoll = System.nanoTime();
            else try { Thread.sleep(delay / 1_000_000, (int) (delay % 1_000_000)); } catch (InterruptedException e) { /* stopping */ }
        }
        System.out.println("stopped after " + workers + " workers, " + total + " changes");
        writeCounter(total);
    }

    static void joinUninterruptibly(Thread t) {
        for (;;) {
            try { t.join(); return; } catch (InterruptedException e) { /* the batch completes first */ }
        }
    }
}
