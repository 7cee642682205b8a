<?php
// Installs the test site non-interactively, as wp-admin/install.php's second step does, with
// PHP's CLI: wp_install(), pretty permalinks, uploads kept in the test's temp dir, one post.
// Usage: php install.php HOST UPLOAD_DIR
$_SERVER['HTTP_HOST'] = $argv[1];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';

// No mail about the new site.
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
{
}

require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$result = wp_install('Askr on WordPress', 'admin', 'admin@example.invalid', true, '',
                     'askr-test-password');
if (empty($result['user_id'])) {
    fwrite(STDERR, "wp_install failed\n");
    exit(1);
}
update_option('upload_path', $argv[2]);
update_option('blogdescription', 'Served side by side');
$GLOBALS['wp_rewrite']->set_permalink_structure('/%postname%/');
flush_rewrite_rules(false);
$id = wp_insert_post([
    'post_title' => 'Askr and nginx',
    'post_name' => 'askr-and-nginx',
    'post_content' => "<!-- wp:paragraph -->\n<p>The same page from both servers.</p>\n<!-- /wp:paragraph -->",
    'post_status' => 'publish',
    'post_date' => '2024-01-02 03:04:05',
]);
if (!$id || is_wp_error($id)) {
    fwrite(STDERR, "wp_insert_post failed\n");
    exit(1);
}
echo "installed\n";
