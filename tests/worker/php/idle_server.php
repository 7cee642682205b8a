<?php
// A worker script that looks at $_SERVER between requests: each request answers what the code
// before it (the boot, or the loop between the last two requests) saw there; after a request
// with t=change, that code also changes $_SERVER.
function seen(): array
{
    return [
        'script' => $_SERVER['SCRIPT_NAME'] ?? null,
        'uri' => $_SERVER['REQUEST_URI'] ?? null,
        'mark' => $_SERVER['ASKR_MARK'] ?? null,
        'time' => $_SERVER['REQUEST_TIME_FLOAT'] ?? null,
    ];
}

$seen = seen();
$change = false;
while (askr_handle_request(static function () use (&$seen, &$change): void {
    echo json_encode($seen);
    $change = ($_GET['t'] ?? '') === 'change';
})) {
    $seen = seen();
    if ($change) {
        $_SERVER['ASKR_MARK'] = 'changed';
    }
}
