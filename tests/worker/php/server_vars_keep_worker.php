<?php
// Worker mode: keeps every request's $_SERVER for the rest of the worker's life, and answers
// with the X_ variables of the copy kept from the first request and of this request's own.
$kept = [];
$handler = static function () use (&$kept): void {
    $kept[] = $_SERVER;
    $x = fn (array $s) => array_filter($s, fn ($k) => str_starts_with((string) $k, 'X_'),
                                       ARRAY_FILTER_USE_KEY);
    header('Content-Type: application/json');
    echo json_encode(['first' => $x($kept[0]), 'now' => $x($_SERVER)]);
};
while (askr_handle_request($handler)) {
}
