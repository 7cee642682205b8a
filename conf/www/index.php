<?php
// The demo page: served by an askr-worker process through askr-proxy.
$visits = (int)($_COOKIE['visits'] ?? 0) + 1;
setcookie('visits', (string)$visits);
header('Content-Type: text/html; charset=utf-8');
$h = static fn(string $s): string => htmlspecialchars($s, ENT_QUOTES);
?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Askr</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Askr is serving this site</h1>
<p>This page ran in PHP <?= $h(PHP_VERSION) ?>, in worker process <?= getmypid() ?>
(<?= $h(PHP_SAPI) ?> SAPI), behind <?= $h($_SERVER['SERVER_SOFTWARE'] ?? '') ?>.</p>
<p>You have loaded it <?= $visits ?> time<?= $visits === 1 ? '' : 's' ?>.</p>
<table>
<?php foreach (['REQUEST_METHOD', 'REQUEST_URI', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'SCRIPT_NAME'] as $k): ?>
<tr><th><?= $h($k) ?></th><td><?= $h((string)($_SERVER[$k] ?? '')) ?></td></tr>
<?php endforeach ?>
</table>
<p>Static files such as <a href="/hello.txt">hello.txt</a> are sent by askr-proxy itself.</p>
</body>
</html>
