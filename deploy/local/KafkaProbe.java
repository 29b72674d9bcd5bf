// Readiness probe for the local Kafka broker, for machines without the Python venv.
// Run with the single-file launcher: java -cp 'libs/*' KafkaProbe.java BOOTSTRAP [TIMEOUT_SECONDS]
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class KafkaProbe {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long timeoutMs = (long) (1000 * (args.length > 1 ? Double.parseDouble(args[1]) : 30.0));
        long deadline = System.currentTimeMillis() + timeoutMs;
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "shoppulse-probe");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        String last = "no answer";
        try (Admin admin = Admin.create(props)) {
            while (System.currentTimeMillis() < deadline) {
                try {
                    DescribeClusterResult cluster = admin.describeCluster();
                    int brokers = cluster.nodes().get(5, TimeUnit.SECONDS).size();
                    boolean controller = !cluster.controller().get(5, TimeUnit.SECONDS).isEmpty();
                    admin.listTopics().names().get(5, TimeUnit.SECONDS);
                    if (brokers > 0 && controller) {
                        System.out.println("cluster " + cluster.clusterId().get() + ": " + brokers + " broker(s)");
                        return;
                    }
                    last = "metadata without live brokers/controller";
                } catch (Exception e) {
                    last = e.toString();
                }
                Thread.sleep(500);
            }
        }
        System.err.println("broker at " + bootstrap + " not ready: " + last);
        System.exit(1);
    }
}
