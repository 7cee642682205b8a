<?php
// Worker mode: answers with this request's $_SERVER, all of it but REQUEST_TIME,
// REQUEST_TIME_FLOAT (given apart: "time") and ASKR_CONNECTION_REQUESTS, then changes it.
// ?keep=1 keeps this request's $_SERVER for the rest of the worker's life; ?putenv=VALUE sets
// ASKR_T in the environment.
$kept = [];
$handler = static function () use (&$kept): void {
    $s = $_SERVER;
    $time = $s['REQUEST_TIME_FLOAT'];
    // ASKR_CONNECTION_REQUESTS counts the requests of the connection: one more each time.
    unset($s['REQUEST_TIME'], $s['REQUEST_TIME_FLOAT'], $s['ASKR_CONNECTION_REQUESTS']);
    header('Content-Type: application/json');
    echo json_encode(['time' => $time, 'server' => $s]);
    if (isset($_GET['keep'])) {
        $kept[] = $_SERVER;
    }
    $_SERVER['MINE'] = 'set by an earlier request';
    $_SERVER['X_A'] = 'changed by an earlier request';
    unset($_SERVER['X_B']);
    if (isset($_GET['putenv'])) {
        putenv('ASKR_T=' . $_GET['putenv']);
    }
};
while (askr_handle_request($handler)) {
}
