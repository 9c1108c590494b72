# Landesamt fuer Digitales (LfD) -- Azure subscription "lfd-fachverfahren-prod"
# (8f3c2a71-5d4e-4b9a-9c1f-2e7d6b5a4c30), region Germany West Central.
#
# Example estate for hoheit. plan.json next to this file is the plan of this
# configuration as `terraform show -json` prints it (format 1.2, Terraform 1.11).
# Mistakes are planted on purpose and marked "MISTAKE:"; everything else is
# meant to be correct. See ../README.md.
terraform {
  required_version = ">= 1.9"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.50"
    }
  }
}

provider "azurerm" {
  subscription_id     = "8f3c2a71-5d4e-4b9a-9c1f-2e7d6b5a4c30"
  tenant_id           = "4a7e9c12-3b5d-4f68-8e21-0c9d7b6a5f43"
  storage_use_azuread = true

  features {
  }
}

variable "legacy_admin_password" {
  description = "Local admin password of the legacy VM."
  type        = string
  sensitive   = true
}

variable "buergerportal_db_password" {
  description = "Admin password of the Buergerportal database."
  type        = string
  sensitive   = true
}

# Existing resource group. hoheit does not model resource groups: it is listed as unsupported.
resource "azurerm_resource_group" "lfd" {
  name     = "rg-lfd-fachverfahren-prod"
  location = "germanywestcentral"
  tags = {
    Behoerde     = "Landesamt fuer Digitales"
    Kostenstelle = "LfD-4711"
  }
}

resource "azurerm_user_assigned_identity" "storage_cmk" {
  name                = "id-lfd-storage-cmk"
  resource_group_name = azurerm_resource_group.lfd.name
  location            = azurerm_resource_group.lfd.location
}

# Premium vault (HSM-backed keys), purge protection, no public access. Correct.
resource "azurerm_key_vault" "lfd" {
  name                          = "kv-lfd-prod-gwc"
  location                      = azurerm_resource_group.lfd.location
  resource_group_name           = azurerm_resource_group.lfd.name
  tenant_id                     = "4a7e9c12-3b5d-4f68-8e21-0c9d7b6a5f43"
  sku_name                      = "premium"
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  rbac_authorization_enabled    = true
  public_network_access_enabled = false

  network_acls {
    bypass         = "AzureServices"
    default_action = "Deny"
  }
}

# Customer-managed key for storage and databases: HSM-protected, rotated
# automatically every 330 days, versions expire after a year. Correct.
resource "azurerm_key_vault_key" "storage_cmk" {
  name         = "storage-cmk"
  key_vault_id = azurerm_key_vault.lfd.id
  key_type     = "RSA-HSM"
  key_size     = 3072
  key_opts     = ["unwrapKey", "wrapKey"]

  rotation_policy {
    expire_after         = "P1Y"
    notify_before_expiry = "P30D"

    automatic {
      time_after_creation = "P330D"
    }
  }
}

# MISTAKE: software-protected RSA-2048 key without a rotation policy or expiry.
resource "azurerm_key_vault_key" "legacy_signing" {
  name         = "altverfahren-signatur"
  key_vault_id = azurerm_key_vault.lfd.id
  key_type     = "RSA"
  key_size     = 2048
  key_opts     = ["sign", "verify"]
}

# VNet with flow logs (azurerm_network_watcher_flow_log.main). Correct.
resource "azurerm_virtual_network" "main" {
  name                = "vnet-lfd-fachverfahren"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name
  address_space       = ["10.30.0.0/16"]
}

resource "azurerm_subnet" "app" {
  name                            = "snet-app"
  resource_group_name             = azurerm_resource_group.lfd.name
  virtual_network_name            = azurerm_virtual_network.main.name
  address_prefixes                = ["10.30.1.0/24"]
  default_outbound_access_enabled = false
}

resource "azurerm_subnet" "db" {
  name                            = "snet-db"
  resource_group_name             = azurerm_resource_group.lfd.name
  virtual_network_name            = azurerm_virtual_network.main.name
  address_prefixes                = ["10.30.2.0/24"]
  default_outbound_access_enabled = false

  delegation {
    name = "postgres"

    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet" "legacy" {
  name                 = "snet-altverfahren"
  resource_group_name  = azurerm_resource_group.lfd.name
  virtual_network_name = azurerm_virtual_network.main.name
  address_prefixes     = ["10.30.99.0/24"]
}

# Central security workspace (exists already): activity log and flow log analytics, 365 days.
resource "azurerm_log_analytics_workspace" "security" {
  name                = "log-lfd-security"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name
  sku                 = "PerGB2018"
  retention_in_days   = 365
}

# Storage for NSG/VNet flow logs: private, TLS 1.2, HTTPS only, versioned. Correct.
resource "azurerm_storage_account" "flowlogs" {
  name                            = "stlfdflowlogs"
  resource_group_name             = azurerm_resource_group.lfd.name
  location                        = azurerm_resource_group.lfd.location
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  public_network_access_enabled   = false
  tags = {
    classification = "internal"
    personal_data  = "false"
    team           = "betrieb"
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
  }

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_network_watcher_flow_log" "main" {
  name                 = "fl-vnet-lfd-fachverfahren"
  network_watcher_name = "NetworkWatcher_germanywestcentral"
  resource_group_name  = "NetworkWatcherRG"
  location             = "germanywestcentral"
  target_resource_id   = azurerm_virtual_network.main.id
  storage_account_id   = azurerm_storage_account.flowlogs.id
  enabled              = true

  retention_policy {
    enabled = true
    days    = 90
  }

  traffic_analytics {
    enabled               = true
    interval_in_minutes   = 10
    workspace_id          = azurerm_log_analytics_workspace.security.workspace_id
    workspace_region      = "germanywestcentral"
    workspace_resource_id = azurerm_log_analytics_workspace.security.id
  }
}

# MISTAKE: RDP (3389/tcp) allowed from any source ("*").
resource "azurerm_network_security_group" "legacy" {
  name                = "nsg-altverfahren"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name

  security_rule {
    name                       = "RDP-Allow-Any"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "3389"
    source_address_prefix      = "*"
    destination_address_prefix = "*"
    description                = "Fernwartung Dienstleister"
  }
}

resource "azurerm_subnet_network_security_group_association" "legacy" {
  subnet_id                 = azurerm_subnet.legacy.id
  network_security_group_id = azurerm_network_security_group.legacy.id
}

# Application NSG; its rule is the split azurerm_network_security_rule below. Correct.
resource "azurerm_network_security_group" "app" {
  name                = "nsg-app"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name
}

resource "azurerm_network_security_rule" "app_https" {
  name                        = "HTTPS-from-VNet"
  priority                    = 100
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "443"
  source_address_prefix       = "VirtualNetwork"
  destination_address_prefix  = "*"
  resource_group_name         = azurerm_resource_group.lfd.name
  network_security_group_name = azurerm_network_security_group.app.name
}

resource "azurerm_subnet_network_security_group_association" "app" {
  subnet_id                 = azurerm_subnet.app.id
  network_security_group_id = azurerm_network_security_group.app.id
}

resource "azurerm_network_interface" "fachverfahren" {
  name                = "nic-vm-lfd-fachverfahren"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.app.id
    private_ip_address_allocation = "Dynamic"
  }
}

# Confidential VM: DCasv5 (AMD SEV-SNP), OS disk encrypted together with the VM
# guest state under the customer's key (this is what the portal calls security
# type "ConfidentialVM" with confidential disk encryption), secure boot and vTPM
# on, SSH keys only, no public IP, no boot diagnostics (so no serial console). Correct.
resource "azurerm_linux_virtual_machine" "fachverfahren" {
  name                            = "vm-lfd-fachverfahren"
  resource_group_name             = azurerm_resource_group.lfd.name
  location                        = azurerm_resource_group.lfd.location
  size                            = "Standard_DC4as_v5"
  zone                            = "1"
  admin_username                  = "lfdadmin"
  disable_password_authentication = true
  network_interface_ids           = [azurerm_network_interface.fachverfahren.id]
  secure_boot_enabled             = true
  vtpm_enabled                    = true
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  admin_ssh_key {
    username   = "lfdadmin"
    public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZmQtYmVpc3BpZWwta2V5LW51ci1mdWVyLWRva3U betrieb@lfd"
  }

  os_disk {
    caching                          = "ReadWrite"
    storage_account_type             = "Premium_LRS"
    security_encryption_type         = "DiskWithVMGuestState"
    secure_vm_disk_encryption_set_id = azurerm_disk_encryption_set.cvm.id
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-confidential-vm-jammy"
    sku       = "22_04-lts-cvm"
    version   = "latest"
  }

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_disk_encryption_set" "cvm" {
  name                = "des-lfd-cvm"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name
  key_vault_key_id    = azurerm_key_vault_key.storage_cmk.versionless_id
  encryption_type     = "ConfidentialVmEncryptedWithCustomerKey"

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_disk_encryption_set" "cmk" {
  name                      = "des-lfd-cmk"
  location                  = azurerm_resource_group.lfd.location
  resource_group_name       = azurerm_resource_group.lfd.name
  key_vault_key_id          = azurerm_key_vault_key.storage_cmk.versionless_id
  auto_key_rotation_enabled = true

  identity {
    type = "SystemAssigned"
  }
}

# Data disk of the confidential VM: customer-managed key via disk encryption set,
# no network export. Correct.
resource "azurerm_managed_disk" "akten" {
  name                          = "disk-lfd-akten"
  location                      = azurerm_resource_group.lfd.location
  resource_group_name           = azurerm_resource_group.lfd.name
  storage_account_type          = "Premium_ZRS"
  create_option                 = "Empty"
  disk_size_gb                  = 512
  disk_encryption_set_id        = azurerm_disk_encryption_set.cmk.id
  public_network_access_enabled = false
  network_access_policy         = "DenyAll"
  tags = {
    classification = "confidential"
    personal_data  = "true"
  }
}

resource "azurerm_virtual_machine_data_disk_attachment" "akten" {
  managed_disk_id    = azurerm_managed_disk.akten.id
  virtual_machine_id = azurerm_linux_virtual_machine.fachverfahren.id
  lun                = 10
  caching            = "ReadOnly"
}

# MISTAKE: unattached export disk with confidential data: platform-managed key
# only, and anyone with the disk's SAS URL may export it (network_access_policy AllowAll).
resource "azurerm_managed_disk" "legacy_export" {
  name                  = "disk-altverfahren-export"
  location              = azurerm_resource_group.lfd.location
  resource_group_name   = azurerm_resource_group.lfd.name
  storage_account_type  = "Standard_LRS"
  create_option         = "Empty"
  disk_size_gb          = 256
  network_access_policy = "AllowAll"
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "altverfahren"
  }
}

resource "azurerm_public_ip" "legacy" {
  name                = "pip-vm-altverfahren"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name
  allocation_method   = "Static"
}

resource "azurerm_network_interface" "legacy" {
  name                = "nic-vm-altverfahren"
  location            = azurerm_resource_group.lfd.location
  resource_group_name = azurerm_resource_group.lfd.name

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.legacy.id
    private_ip_address_allocation = "Dynamic"
    public_ip_address_id          = azurerm_public_ip.legacy.id
  }
}

# MISTAKE: plain VM for confidential data: no confidential computing, no secure
# boot or vTPM, password login allowed, public IP, and RDP/SSH exposure through nsg-altverfahren.
resource "azurerm_linux_virtual_machine" "legacy" {
  name                            = "vm-altverfahren"
  resource_group_name             = azurerm_resource_group.lfd.name
  location                        = azurerm_resource_group.lfd.location
  size                            = "Standard_B2s"
  admin_username                  = "admin_lfd"
  admin_password                  = var.legacy_admin_password
  disable_password_authentication = false
  network_interface_ids           = [azurerm_network_interface.legacy.id]
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "altverfahren"
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-server-focal"
    sku       = "20_04-lts-gen2"
    version   = "latest"
  }
}

# MISTAKE: file exchange with external partners: plain HTTP allowed
# (https_traffic_only_enabled = false), TLS 1.0 accepted, public containers
# allowed, reachable from every network, no versioning.
resource "azurerm_storage_account" "legacy_austausch" {
  name                            = "stlfdaustausch"
  resource_group_name             = azurerm_resource_group.lfd.name
  location                        = azurerm_resource_group.lfd.location
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  https_traffic_only_enabled      = false
  min_tls_version                 = "TLS1_0"
  allow_nested_items_to_be_public = true
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "altverfahren"
  }
}

# MISTAKE: anonymous read and list access to the whole container.
resource "azurerm_storage_container" "austausch" {
  name                  = "austausch"
  storage_account_id    = azurerm_storage_account.legacy_austausch.id
  container_access_type = "container"
}

# Case files: HTTPS and TLS 1.2 only, no public access, no shared keys, versioned.
# Encrypted with the customer key through the split resource
# azurerm_storage_account_customer_managed_key.akten below. Correct.
resource "azurerm_storage_account" "akten" {
  name                              = "stlfdakten"
  resource_group_name               = azurerm_resource_group.lfd.name
  location                          = azurerm_resource_group.lfd.location
  account_tier                      = "Standard"
  account_replication_type          = "ZRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  public_network_access_enabled     = false
  infrastructure_encryption_enabled = true
  default_to_oauth_authentication   = true
  tags = {
    classification = "confidential"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.storage_cmk.id]
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    versioning_enabled  = true
    change_feed_enabled = true

    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_storage_account_customer_managed_key" "akten" {
  storage_account_id        = azurerm_storage_account.akten.id
  key_vault_id              = azurerm_key_vault.lfd.id
  key_name                  = azurerm_key_vault_key.storage_cmk.name
  user_assigned_identity_id = azurerm_user_assigned_identity.storage_cmk.id
}

# Blob access logging of the case-file account (Azure's form of server access logs).
resource "azurerm_monitor_diagnostic_setting" "akten_blob" {
  name                       = "blob-access-to-security-workspace"
  target_resource_id         = "${azurerm_storage_account.akten.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.security.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

resource "azurerm_storage_container" "akten" {
  name                  = "akten"
  storage_account_id    = azurerm_storage_account.akten.id
  container_access_type = "private"
}

# Fachverfahren database: VNet-integrated (no public access), zone-redundant HA,
# 35 days of backups, Entra ID authentication only, customer-managed key. Correct.
resource "azurerm_postgresql_flexible_server" "fachverfahren" {
  name                          = "psql-lfd-fachverfahren"
  resource_group_name           = azurerm_resource_group.lfd.name
  location                      = azurerm_resource_group.lfd.location
  version                       = "16"
  sku_name                      = "GP_Standard_D4ds_v5"
  storage_mb                    = 131072
  zone                          = "1"
  delegated_subnet_id           = azurerm_subnet.db.id
  private_dns_zone_id           = "/subscriptions/8f3c2a71-5d4e-4b9a-9c1f-2e7d6b5a4c30/resourceGroups/rg-lfd-fachverfahren-prod/providers/Microsoft.Network/privateDnsZones/lfd.postgres.database.azure.com"
  public_network_access_enabled = false
  backup_retention_days         = 35
  tags = {
    classification = "confidential"
    personal_data  = "true"
    environment    = "production"
  }

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = "4a7e9c12-3b5d-4f68-8e21-0c9d7b6a5f43"
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.storage_cmk.id]
  }

  customer_managed_key {
    key_vault_key_id                  = azurerm_key_vault_key.storage_cmk.id
    primary_user_assigned_identity_id = azurerm_user_assigned_identity.storage_cmk.id
  }
}

resource "azurerm_postgresql_flexible_server_configuration" "fachverfahren_pgaudit" {
  name      = "pgaudit.log"
  server_id = azurerm_postgresql_flexible_server.fachverfahren.id
  value     = "DDL,ROLE"
}

resource "azurerm_management_lock" "fachverfahren_db" {
  name       = "nicht-loeschen"
  scope      = azurerm_postgresql_flexible_server.fachverfahren.id
  lock_level = "CanNotDelete"
  notes      = "Fachverfahren-Datenbank: Loeschen nur nach Freigabe durch den ISB"
}

# MISTAKE: Buergerportal database open to the internet (firewall rule below
# allows 0.0.0.0-255.255.255.255), TLS not required, no HA, local passwords only.
resource "azurerm_postgresql_flexible_server" "buergerportal" {
  name                          = "psql-lfd-buergerportal"
  resource_group_name           = azurerm_resource_group.lfd.name
  location                      = azurerm_resource_group.lfd.location
  version                       = "13"
  sku_name                      = "B_Standard_B1ms"
  storage_mb                    = 32768
  administrator_login           = "portaladmin"
  administrator_password        = var.buergerportal_db_password
  public_network_access_enabled = true
  backup_retention_days         = 7
  tags = {
    classification = "confidential"
    personal_data  = "true"
    environment    = "production"
    team           = "web"
  }
}

resource "azurerm_postgresql_flexible_server_firewall_rule" "buergerportal_all" {
  name             = "allow-all"
  server_id        = azurerm_postgresql_flexible_server.buergerportal.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "255.255.255.255"
}

resource "azurerm_postgresql_flexible_server_configuration" "buergerportal_tls" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.buergerportal.id
  value     = "off"
}

# MISTAKE: Owner on the whole subscription for an external service provider's guest account.
resource "azurerm_role_assignment" "dienstleister_owner" {
  scope                = "/subscriptions/8f3c2a71-5d4e-4b9a-9c1f-2e7d6b5a4c30"
  role_definition_name = "Owner"
  principal_id         = "6d1f0b2a-9c8e-4f7d-a3b5-1e2c4d6f8a90"
  principal_type       = "User"
  description          = "Dienstleister Altverfahren (Gastkonto), Migration 2024"
}

# The confidential VM may read case files, nothing more. Correct.
resource "azurerm_role_assignment" "akten_reader" {
  scope                = azurerm_storage_account.akten.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_linux_virtual_machine.fachverfahren.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Subscription activity log goes to the security workspace (365 days). Correct.
resource "azurerm_monitor_diagnostic_setting" "activity_log" {
  name                       = "activity-log-to-security-workspace"
  target_resource_id         = "/subscriptions/8f3c2a71-5d4e-4b9a-9c1f-2e7d6b5a4c30"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.security.id

  enabled_log {
    category = "Administrative"
  }

  enabled_log {
    category = "Security"
  }

  enabled_log {
    category = "Policy"
  }

  enabled_log {
    category = "Alert"
  }
}
