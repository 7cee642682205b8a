<?php
// time_limit.php as a worker-mode handler.
$handler = static function (): void {
    require __DIR__ . '/time_limit.php';
};
while (askr_handle_request($handler)) {
}
