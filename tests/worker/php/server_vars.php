<?php
// Echoes, as JSON, how the server variables named in X_NAMES (comma-separated) arrived: each as
// [$_SERVER's value, filter_input(INPUT_SERVER)'s, filter_has_var(INPUT_SERVER)], every $_SERVER
// key that starts with X_ (what this request brought, and nothing of another's), $_SERVER['A']
// (a name with brackets becomes an array) and the keys filter_input_array(INPUT_SERVER) has of
// those starting with X_.
header('Content-Type: application/json');
$vars = [];
foreach (explode(',', $_SERVER['X_NAMES'] ?? '') as $n) {
    $vars[$n] = [$_SERVER[$n] ?? null, filter_input(INPUT_SERVER, $n), filter_has_var(INPUT_SERVER, $n)];
}
$x = array_filter($_SERVER, fn ($k) => str_starts_with((string) $k, 'X_'), ARRAY_FILTER_USE_KEY);
$copy = array_keys(filter_input_array(INPUT_SERVER) ?: []);
echo json_encode([
    'vars' => $vars,
    'x' => $x,
    'a' => $_SERVER['A'] ?? null,
    'n7' => $_SERVER[7] ?? null,
    'self' => $_SERVER['PHP_SELF'] ?? null,
    'copy' => array_values(array_filter($copy, fn ($k) => str_starts_with((string) $k, 'X_'))),
]);
