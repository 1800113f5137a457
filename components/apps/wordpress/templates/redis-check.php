<?php
// Run by `wp eval-file` after the drop-in is written: fail unless the Redis object cache
// is in use and connected, so a wrong host or password fails the deploy instead of
// silently falling back to no persistent cache.
$cache = $GLOBALS['wp_object_cache'] ?? null;
if (!is_object($cache) || !method_exists($cache, 'redis_status') || !$cache->redis_status()) {
    fwrite(STDERR, "selfhost: the Redis object cache is not connected; see `wp redis status`\n");
    exit(1);
}
echo "selfhost: Redis object cache connected\n";
