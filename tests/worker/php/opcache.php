<?php
$s = opcache_get_status(false);
echo json_encode(['enabled' => $s['opcache_enabled'] ?? false,
                  'cached' => $s['opcache_statistics']['num_cached_scripts'] ?? 0,
                  'hits' => $s['opcache_statistics']['hits'] ?? 0]);
