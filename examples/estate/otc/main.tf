# Landesamt fuer Digitales (LfD) -- Open Telekom Cloud project "eu-de_lfd-fachverfahren",
# region eu-de (Magdeburg/Biere). Credentials come from the environment (OS_USERNAME, OS_PASSWORD).
#
# Example estate for hoheit. plan.json next to this file is the plan of this
# configuration as `terraform show -json` prints it (format 1.2, Terraform 1.11).
# Mistakes are planted on purpose and marked "MISTAKE:"; everything else is
# meant to be correct. See ../README.md.
terraform {
  required_version = ">= 1.9"

  required_providers {
    opentelekomcloud = {
      source  = "opentelekomcloud/opentelekomcloud"
      version = "~> 1.36"
    }
  }
}

provider "opentelekomcloud" {
  auth_url    = "https://iam.eu-de.otc.t-systems.com/v3"
  domain_name = "OTC00000000001000057311"
  tenant_name = "eu-de_lfd-fachverfahren"
  region      = "eu-de"
}

variable "legacy_root_password" {
  description = "Root password of the legacy server."
  type        = string
  sensitive   = true
}

variable "fachverfahren_db_password" {
  description = "Initial root password of the Fachverfahren database."
  type        = string
  sensitive   = true
}

variable "buergerportal_db_password" {
  description = "Root password of the Buergerportal database."
  type        = string
  sensitive   = true
}

# Customer master key with yearly rotation. Correct.
resource "opentelekomcloud_kms_key_v1" "obs" {
  key_alias         = "lfd-obs-akten"
  key_description   = "LfD: OBS, EVS and RDS encryption"
  pending_days      = "30"
  rotation_enabled  = true
  rotation_interval = 365
}

# MISTAKE: key rotation not enabled.
resource "opentelekomcloud_kms_key_v1" "legacy" {
  key_alias       = "lfd-altverfahren"
  key_description = "Altverfahren"
  pending_days    = "7"
}

# Log bucket for OBS access logs and CTS traces; KMS-encrypted, versioned. It does
# not log itself (exception in examples/exceptions.yaml).
resource "opentelekomcloud_obs_bucket" "logs" {
  bucket     = "lfd-obs-protokolle"
  acl        = "log-delivery-write"
  versioning = true
  tags = {
    classification = "internal"
    personal_data  = "false"
    team           = "betrieb"
  }

  server_side_encryption {
    algorithm  = "kms"
    kms_key_id = opentelekomcloud_kms_key_v1.obs.id
  }
}

# Case files: private, SSE-KMS with the customer key (id known after apply),
# versioned, access logging. Correct.
resource "opentelekomcloud_obs_bucket" "akten" {
  bucket     = "lfd-fachverfahren-akten-otc"
  acl        = "private"
  versioning = true
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  server_side_encryption {
    algorithm  = "kms"
    kms_key_id = opentelekomcloud_kms_key_v1.obs.id
  }

  logging {
    target_bucket = opentelekomcloud_obs_bucket.logs.bucket
    target_prefix = "akten/"
  }
}

# MISTAKE: public-read bucket without encryption, versioning or logging.
resource "opentelekomcloud_obs_bucket" "oeffentlich" {
  bucket = "lfd-veroeffentlichungen"
  acl    = "public-read"
  tags = {
    classification = "public"
    personal_data  = "false"
    team           = "presse"
  }
}

# VPC with flow logs to Log Tank Service. Correct.
resource "opentelekomcloud_vpc_v1" "fachverfahren" {
  name = "vpc-lfd-fachverfahren"
  cidr = "10.50.0.0/16"
}

resource "opentelekomcloud_vpc_subnet_v1" "app" {
  name       = "snet-app"
  vpc_id     = opentelekomcloud_vpc_v1.fachverfahren.id
  cidr       = "10.50.1.0/24"
  gateway_ip = "10.50.1.1"
  dns_list   = ["100.125.4.25", "100.125.129.199"]
}

resource "opentelekomcloud_logtank_group_v2" "flowlogs" {
  group_name  = "lfd-flowlogs"
  ttl_in_days = 30
}

resource "opentelekomcloud_logtank_topic_v2" "flowlogs" {
  group_id   = opentelekomcloud_logtank_group_v2.flowlogs.id
  topic_name = "vpc-lfd-fachverfahren"
}

resource "opentelekomcloud_vpc_flow_log_v1" "fachverfahren" {
  name          = "fl-vpc-lfd-fachverfahren"
  resource_type = "vpc"
  resource_id   = opentelekomcloud_vpc_v1.fachverfahren.id
  traffic_type  = "all"
  log_group_id  = opentelekomcloud_logtank_group_v2.flowlogs.id
  log_topic_id  = opentelekomcloud_logtank_topic_v2.flowlogs.id
}

# MISTAKE: legacy VPC without flow logs.
resource "opentelekomcloud_vpc_v1" "legacy" {
  name = "vpc-altverfahren"
  cidr = "10.59.0.0/16"
}

resource "opentelekomcloud_vpc_subnet_v1" "legacy" {
  name       = "snet-altverfahren"
  vpc_id     = opentelekomcloud_vpc_v1.legacy.id
  cidr       = "10.59.0.0/24"
  gateway_ip = "10.59.0.1"
}

# MISTAKE: security group with SSH open to the internet (rule below).
resource "opentelekomcloud_networking_secgroup_v2" "legacy" {
  name        = "sg-altverfahren"
  description = "Altverfahren Server"
}

resource "opentelekomcloud_networking_secgroup_rule_v2" "legacy_ssh" {
  security_group_id = opentelekomcloud_networking_secgroup_v2.legacy.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 22
  port_range_max    = 22
  remote_ip_prefix  = "0.0.0.0/0"
  description       = "SSH Fernwartung"
}

# Application group: HTTPS from inside the VPC only. Correct.
resource "opentelekomcloud_networking_secgroup_v2" "app" {
  name                 = "sg-fachverfahren-app"
  description          = "Fachverfahren application servers"
  delete_default_rules = true
}

resource "opentelekomcloud_networking_secgroup_rule_v2" "app_https" {
  security_group_id = opentelekomcloud_networking_secgroup_v2.app.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 443
  port_range_max    = 443
  remote_ip_prefix  = "10.50.0.0/16"
}

# Application server: KMS-encrypted system disk, key login only, no public IP. Correct
# (classification "internal" does not call for confidential computing).
resource "opentelekomcloud_ecs_instance_v1" "fachverfahren" {
  name                        = "ecs-lfd-fachverfahren"
  image_id                    = "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
  flavor                      = "s3.xlarge.4"
  vpc_id                      = opentelekomcloud_vpc_v1.fachverfahren.id
  availability_zone           = "eu-de-01"
  key_name                    = "lfd-betrieb"
  security_groups             = [opentelekomcloud_networking_secgroup_v2.app.id]
  system_disk_type            = "SSD"
  system_disk_size            = 50
  system_disk_kms_id          = opentelekomcloud_kms_key_v1.obs.id
  delete_disks_on_termination = true
  tags = {
    classification = "internal"
    personal_data  = "false"
    team           = "fachverfahren"
  }

  nics {
    network_id = opentelekomcloud_vpc_subnet_v1.app.id
  }
}

# Data volume encrypted with the customer key. Correct.
resource "opentelekomcloud_evs_volume_v3" "akten" {
  name              = "evs-lfd-akten"
  availability_zone = "eu-de-01"
  volume_type       = "SSD"
  size              = 200
  kms_id            = opentelekomcloud_kms_key_v1.obs.id
  tags = {
    classification = "confidential"
    personal_data  = "true"
  }
}

resource "opentelekomcloud_compute_volume_attach_v2" "akten" {
  instance_id = opentelekomcloud_ecs_instance_v1.fachverfahren.id
  volume_id   = opentelekomcloud_evs_volume_v3.akten.id
}

# MISTAKE: server for confidential data with root password login, unencrypted
# system and data disks, no confidential computing, SSH open via sg-altverfahren.
resource "opentelekomcloud_ecs_instance_v1" "legacy" {
  name              = "ecs-altverfahren"
  image_id          = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
  flavor            = "s3.large.2"
  vpc_id            = opentelekomcloud_vpc_v1.legacy.id
  availability_zone = "eu-de-02"
  password          = var.legacy_root_password
  security_groups   = [opentelekomcloud_networking_secgroup_v2.legacy.id]
  system_disk_type  = "SAS"
  system_disk_size  = 40
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "altverfahren"
  }

  data_disks {
    type = "SAS"
    size = "100"
  }

  nics {
    network_id = opentelekomcloud_vpc_subnet_v1.legacy.id
  }
}

# MISTAKE: archive volume without kms_id (not encrypted).
resource "opentelekomcloud_evs_volume_v3" "legacy" {
  name              = "evs-altverfahren-archiv"
  availability_zone = "eu-de-02"
  volume_type       = "SAS"
  size              = 500
  tags = {
    classification = "confidential"
    personal_data  = "true"
  }
}

# Fachverfahren database (MySQL 8.0): primary/standby over two AZs, encrypted
# volume with the customer key, TLS required, 14 days of backups, no public IP. Correct.
resource "opentelekomcloud_rds_instance_v3" "fachverfahren" {
  name                = "rds-lfd-fachverfahren"
  availability_zone   = ["eu-de-01", "eu-de-02"]
  flavor              = "rds.mysql.x1.xlarge.4.ha"
  ha_replication_mode = "semisync"
  vpc_id              = opentelekomcloud_vpc_v1.fachverfahren.id
  subnet_id           = opentelekomcloud_vpc_subnet_v1.app.id
  security_group_id   = opentelekomcloud_networking_secgroup_v2.app.id
  ssl_enable          = true
  tag = {
    classification = "confidential"
    personal_data  = "true"
    environment    = "production"
  }

  db {
    type     = "MySQL"
    version  = "8.0"
    password = var.fachverfahren_db_password
  }

  parameters {
    name  = "require_secure_transport"
    value = "ON"
  }

  volume {
    type               = "CLOUDSSD"
    size               = 200
    disk_encryption_id = opentelekomcloud_kms_key_v1.obs.id
  }

  backup_strategy {
    start_time = "01:00-02:00"
    keep_days  = 14
  }
}

resource "opentelekomcloud_networking_floatingip_v2" "buergerportal_db" {
}

# MISTAKE: single-AZ MySQL with a public floating IP, unencrypted volume,
# one day of backups.
resource "opentelekomcloud_rds_instance_v3" "buergerportal" {
  name              = "rds-lfd-buergerportal"
  availability_zone = ["eu-de-01"]
  flavor            = "rds.mysql.c2.medium"
  vpc_id            = opentelekomcloud_vpc_v1.legacy.id
  subnet_id         = opentelekomcloud_vpc_subnet_v1.legacy.id
  security_group_id = opentelekomcloud_networking_secgroup_v2.legacy.id
  public_ips        = [opentelekomcloud_networking_floatingip_v2.buergerportal_db.address]
  tag = {
    personal_data = "true"
    environment   = "production"
    team          = "web"
  }

  db {
    type     = "MySQL"
    version  = "8.0"
    password = var.buergerportal_db_password
  }

  volume {
    type = "COMMON"
    size = 40
  }

  backup_strategy {
    start_time = "03:00-04:00"
    keep_days  = 1
  }
}

# Cloud Trace Service tracker: traces to the KMS-encrypted log bucket and to LTS. Correct.
resource "opentelekomcloud_cts_tracker_v1" "system" {
  bucket_name                       = opentelekomcloud_obs_bucket.logs.bucket
  file_prefix_name                  = "cts"
  is_lts_enabled                    = true
  is_support_trace_files_encryption = true
  kms_id                            = opentelekomcloud_kms_key_v1.obs.id
  status                            = "enabled"
}
